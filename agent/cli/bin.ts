#!/usr/bin/env node
// First: the heap setting must be in place before the agent allocates anything large.
import './heap-tuning.js';
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env,
});
