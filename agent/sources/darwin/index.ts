/** macOS collector: what the platform selector needs. */
export { createDarwinSource, type DarwinSourceOptions } from './source.js';
export { createExecRunner, type CommandResult, type CommandRunner } from './command-runner.js';
