import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { sentPartsCollector } from '../src/s3/sent-parts.js';

const MIB = 1024 * 1024;

/** A buffer nothing references any more, and a way to see whether V8 has freed it. */
function garbage(bytes: number): WeakRef<Buffer> {
  return new WeakRef(Buffer.alloc(bytes, 1));
}

async function freedWithin(ref: WeakRef<Buffer>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (ref.deref() === undefined) return true;
  return ref.deref() === undefined;
}

describe('sentPartsCollector', () => {
  it('has V8 free dead buffers once they exceed the budget', async () => {
    const check = sentPartsCollector(8 * MIB);
    const sent = garbage(24 * MIB); // well under the ~64 MB after which V8 would collect by itself
    await sleep(0); // a WeakRef keeps its target until the task that made it ends
    check();
    expect(await freedWithin(sent, 2000)).toBe(true);
  });
});
