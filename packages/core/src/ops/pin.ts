import type { CommonOptions } from '../options.js';
import { isPinned, pinKeyOf, requireDump } from '../pins.js';
import { assertSafeKey } from '../keys.js';
import { interruptible } from '../interrupt.js';
import { openStorage, prepare, type Runtime } from './prepare.js';

/** What `pin` and `unpin` return. */
export interface PinResult {
  key: string;
  pinned: boolean;
  /** False when the dump already was in that state. */
  changed: boolean;
}

/**
 * Pins a dump so that `prune` and `rm` leave it alone (a `<key>.pin.json` sidecar), or unpins it.
 *
 * @example
 * await pin('prod/default/none/2026-11-25-14-03-59-123456.dump', {}, runtime);
 */
export async function pin(key: string, options: CommonOptions & { unpin?: boolean }, runtime: Runtime): Promise<PinResult> {
  return interruptible(options.signal, `${options.unpin ? 'Unpin' : 'Pin'} of ${key}`, () => pinNow(key, options, runtime));
}

async function pinNow(key: string, options: CommonOptions & { unpin?: boolean }, runtime: Runtime): Promise<PinResult> {
  assertSafeKey(key, 'dump key');
  const prepared = await prepare('pin', options, runtime);
  const storage = await openStorage(prepared);
  await requireDump(storage, key, prepared.options.validateDumpKeys);
  const was = await isPinned(storage, key);
  if (options.unpin) {
    if (was) await storage.delete(pinKeyOf(key));
    prepared.reporter.info(was ? `Unpinned ${key}` : `${key} was not pinned`);
    return { key, pinned: false, changed: was };
  }
  if (!was) {
    const writer = await storage.write(pinKeyOf(key));
    writer.stream.end(`${JSON.stringify({ key, pinnedAt: new Date().toISOString() }, null, 2)}\n`);
    await writer.commit();
  }
  prepared.reporter.info(was ? `${key} was already pinned` : `Pinned ${key}: prune and rm will keep it`);
  return { key, pinned: true, changed: !was };
}
