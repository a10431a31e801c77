import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { bytesReadByNow, followBytesRead } from '../src/proc-io.js';

const MIB = 1024 * 1024;

describe.skipIf(process.platform !== 'linux')('followBytesRead', () => {
  it("takes its last reading as the writer's exit is seen, then stops", async () => {
    // `cat` stands for the compressor: it reads a pipe and stays alive while the writer's exit is seen.
    const reader = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
    await once(reader, 'spawn');
    try {
      reader.stdin.write(Buffer.alloc(3 * MIB, 1));
      for (let waited = 0; (bytesReadByNow(reader.pid) ?? 0) < 3 * MIB; waited += 10) {
        expect(waited).toBeLessThan(5000);
        await sleep(10);
      }
      const readings: number[] = [];
      const writer = new EventEmitter();
      followBytesRead(reader.pid, { set: (n) => readings.push(n) }, writer);
      writer.emit('exit', 0, null);
      // At once, long before the first quarter-second reading, and the whole input.
      expect(readings).toHaveLength(1);
      expect(readings[0]).toBeGreaterThanOrEqual(3 * MIB);
      await sleep(400);
      expect(readings).toHaveLength(1); // stopped
    } finally {
      reader.kill();
    }
  });
});
