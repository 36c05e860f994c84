import { z } from 'zod';
import { byteSize, duration } from '../../config/types.js';
import { HASH_ALGORITHMS } from './pe/exe-info.js';

/** How the collector sees the host: real-time kernel events where the platform has them, polling always. */
export const sourceSchema = z.strictObject({
  realtime: z.enum(['auto', 'ebpf', 'proc_connector', 'off']).default('auto')
    .describe('Linux real-time events: auto (eBPF, else the proc connector, else polling only), ebpf, proc_connector, or off'),
  ring_buffer: byteSize().default(1024 * 1024).refine((n) => n >= 4096 && n <= 1024 ** 3, 'expected 4KiB to 1GiB')
    .describe('eBPF ring buffer size (rounded up to a power of two; counts twice in RSS, the kernel maps it twice); holds about 3,000 processes\' fork, exec and exit; events beyond it are counted and reported as lost'),
  executable_hashes: z.array(z.enum(HASH_ALGORITHMS)).default(['md5', 'sha1', 'sha256', 'imphash'])
    .refine((a) => new Set(a).size === a.length, 'expected each algorithm at most once')
    .describe('Windows: hashes of process executables (md5, sha1, sha256, imphash), computed once per file identity off the poll; Sigma rules on Hashes load only for the algorithms the agent fills (all four by default), so leaving one out makes those alternatives never match'),
  executable_hash_max_size: byteSize().default(100 * 1024 * 1024)
    .describe('Windows: executables larger than this are not hashed (md5/sha1/sha256; their PE version info and imphash are still read)'),
  reconcile_interval: duration({ max: 3_600_000 }).default(10_000).refine((ms) => ms >= 100, 'expected at least 100ms')
    .describe('poll interval while eBPF reports listeners and processes as they change (polling then only reconciles)'),
  connections: z.strictObject({
    loopback: z.boolean().default(false)
      .describe('also report connections to loopback peers (127/8, ::1); off, they are skipped and counted'),
    dedupe_window: duration({ max: 86_400_000 }).default(60_000)
      .describe('one connection event per process, peer address and peer port per this window (0: every attempt); the rest are folded and counted'),
  }).prefault({}).describe('outbound TCP connection attempts seen by eBPF (Linux) or by polling the connection table (Windows); events.connections says whether they are watched and shipped'),
}).prefault({}).describe('collection: real-time kernel events and the polling that reconciles them');

export type SourceConfig = z.output<typeof sourceSchema>;
