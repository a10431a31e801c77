import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findScratchLeftovers } from '../src/scratch.js';

const spoolModule = fileURLToPath(new URL('../dist/pg/spool.js', import.meta.url));

describe('spool directories of a run that died', () => {
  // They were named with the raw host name, which the leftover scan (doctor, the next restore) never matched.
  it('are found by the leftover scan, in the temp directory and in a chosen spool directory', async () => {
    const chosen = mkdtempSync(path.join(os.tmpdir(), 'pgclone-test-spooldir-'));
    try {
      for (const base of [os.tmpdir(), chosen]) {
        // A process that spools, then exits without removing its spool (as a kill -9 would leave it).
        const dir = execFileSync(process.execPath, [
          '--input-type=module',
          '-e',
          `import { Readable } from 'node:stream'; import path from 'node:path';
           const { spoolToFile } = await import(${JSON.stringify(spoolModule)});
           const spool = await spoolToFile(Readable.from([Buffer.alloc(4096, 1)]), ${JSON.stringify(base)});
           process.stdout.write(path.dirname(spool.path)); process.exit(0);`,
        ]).toString();
        try {
          expect(existsSync(dir)).toBe(true);
          const found = (await findScratchLeftovers(base)).find((l) => l.path === dir);
          expect(found).toMatchObject({ stale: true, bytes: 4096 });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    } finally {
      rmSync(chosen, { recursive: true, force: true });
    }
  });
});
