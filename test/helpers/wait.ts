// Tests wait for conditions with testkit/wait.ts (shared with the peers that benches start too).
export { waitFor } from '../../testkit/wait.js';
