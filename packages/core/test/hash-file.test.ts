import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFile } from '../src/manifest.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Appends `chunks` to `file` one by one, pausing between them longer than the hash waits for growth. */
async function writeSlowly(file: string, chunks: Buffer[], fail = false): Promise<void> {
  for (const chunk of chunks) {
    await appendFile(file, chunk);
    await sleep(40);
  }
  if (fail) throw new Error('the writer failed');
}

describe('hashFile behind a writer', () => {
  it('follows a file as it grows and ends with the writer: the checksum of the whole file', async () => {
    const file = path.join(dir, 'growing.dump');
    await writeFile(file, '');
    // Larger than one read (1 MiB) at a time, and smaller: the hash catches up with the writer and waits.
    const chunks = [randomBytes(1.5 * 1024 * 1024), randomBytes(10), randomBytes(300_000), randomBytes(2 * 1024 * 1024 + 7)];
    const written = writeSlowly(file, chunks);
    const hashed = await hashFile(file, undefined, written);
    const whole = Buffer.concat(chunks);
    expect(hashed).toEqual({ size: whole.length, sha256: createHash('sha256').update(whole).digest('hex') });
  });

  it('ends when the writer fails, without waiting for bytes that will never come', async () => {
    const file = path.join(dir, 'failed.dump');
    await writeFile(file, '');
    const chunk = randomBytes(4096);
    const written = writeSlowly(file, [chunk], true);
    written.catch(() => {});
    const hashed = await hashFile(file, undefined, written);
    expect(hashed.size).toBe(chunk.length);
  });

  it('stops when its signal is aborted while the writer still runs', async () => {
    const file = path.join(dir, 'aborted.dump');
    await writeFile(file, 'x');
    const controller = new AbortController();
    const never = new Promise<void>(() => {});
    const hashing = hashFile(file, controller.signal, never);
    await sleep(50);
    controller.abort();
    await expect(hashing).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });
});
