// Moved to agent/runtime/v8-flags.ts; this re-export stays until agent/sources/linux/memory-housekeeping.ts
// (changed on another branch) imports the runtime module itself.
export { beginBurst, endBurst, reduceHeap } from '../runtime/v8-flags.js';
