import { randomBytes } from 'node:crypto';

let lastMs = 0;
let counter = 0;
// Random bytes come from a pool refilled 4 KiB at a time: one syscall per 256 ids, not per id.
const POOL = 4096;
let pool = randomBytes(POOL);
let poolAt = 0;

function random16(): Buffer {
  if (poolAt + 16 > POOL) {
    pool = randomBytes(POOL);
    poolAt = 0;
  }
  const b = Buffer.from(pool.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  return b;
}

/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds, then a 12-bit counter (monotonic within one
 * millisecond in this process), then random bits. Sortable by creation time.
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
  } else {
    lastMs = now;
    counter = 0;
  }
  const b = random16();
  const ms = lastMs;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((counter >>> 8) & 0x0f);
  b[7] = counter & 0xff;
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
