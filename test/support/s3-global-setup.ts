import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

/** The run's S3-compatible server. */
export interface S3Info {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** s3rver's data folder (`<directory>/<bucket>/…`, pending uploads in `<bucket>/._S3rver_uploads/`). */
  directory: string;
  /** s3rver knows exactly one access key (its secret is not checked for SigV4). */
  accessKeyId: string;
  secretAccessKey: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3Info;
  }
}

/** One s3rver per test run (about 110 MB), in a child process because it needs the legacy OpenSSL provider. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Test workers (forked after this) load the SDK in-process; its Node 22 notice would clutter every run's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const directory = mkdtempSync(path.join(os.tmpdir(), 'pgclone-s3rver-'));
  const script = fileURLToPath(new URL('./s3rver-child.cjs', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, directory], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch (error) {
        reject(error);
      }
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before it listened`)));
  });
  project.provide('s3', { endpoint: `http://127.0.0.1:${port}`, directory, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(directory, { recursive: true, force: true });
  };
}
