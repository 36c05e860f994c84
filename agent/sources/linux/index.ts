// The Linux collector: the class is in source.ts; this is what the rest of the agent, tests and benches import.
export { createLinuxSource, FULL_READS_PER_POLL, LinuxSource } from './source.js';
export type { LinuxSourceOptions } from './source.js';
