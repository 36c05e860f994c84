/**
 * `portwarden listeners --json | head -1`: once the reader has gone, stdout's next write fails with
 * EPIPE, and an unhandled stream error would end the process with a stack trace. A one-shot command
 * has nothing left to say to anyone: it exits 0 at once, as `cat` does under SIGPIPE. `run` stops
 * through its normal shutdown instead (run.ts listens too), so the spool keeps what was not written.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WritableStream, command: string | undefined): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (command !== 'run') process.exit(0);
  });
}
