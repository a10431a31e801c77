/**
 * `pgclone ls | head -1`: a reader that stops early closes the pipe, and the next write fails with EPIPE. That is
 * not pgclone's failure, and an operation under way (a restore) must still finish and clean up: further output is
 * dropped instead of crashing the process with an unhandled stream error.
 */
export function ignoreClosedOutput(...streams: NodeJS.WriteStream[]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    });
  }
}
