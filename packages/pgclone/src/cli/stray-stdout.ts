/**
 * Sends what in-process code writes to the process's stdout while a command runs — a function hook's or a config
 * module's `console.log` — to `print` (stderr, redacted, as hook output), so that stdout holds only the results:
 * `pgclone dump --json | jq` broke on a hook's line, and it printed the URL it was given, password and all. Children
 * (shell hooks, pg_dump, the Knex and Prisma CLIs) have their own pipes and are not affected. For the CLI's own
 * process only, like {@link routeProcessWarnings}.
 *
 * @returns the function that puts stdout back, and a writer for the results that bypasses the capture
 */
export function captureStrayStdout(print: (line: string) => void): { restore(): void; write(text: string): void } {
  const stdout = process.stdout;
  const original = stdout.write;
  let pending = '';
  const capture = function (this: NodeJS.WriteStream, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) print(line);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  } as typeof stdout.write;
  stdout.write = capture;
  return {
    restore() {
      if (pending) print(pending);
      pending = '';
      if (stdout.write === capture) stdout.write = original;
    },
    write(text: string) {
      original.call(stdout, text);
    },
  };
}
