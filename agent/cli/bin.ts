#!/usr/bin/env node
// First: the heap settings must be in place before the agent allocates anything large, and before
// the rest of the agent is loaded (loading reads files on libuv's worker threads, whose first
// allocation picks their malloc arena).
import '../runtime/heap-tuning.js';

const { main } = await import('./main.js');
const { exitQuietlyOnBrokenPipe } = await import('./broken-pipe.js');
exitQuietlyOnBrokenPipe(process.stdout, process.argv[2]);
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env,
});
