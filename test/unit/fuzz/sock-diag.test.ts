// Fuzzing the JS side of the native sock_diag path: the addon (C) does the netlink work and hands
// JS packed rows (dump), packed process basics (basics), a Float64Array (starts) and fd holders
// (holders). Whatever those values are, SockDiag must answer or say "unusable", never throw.
import { test } from 'node:test';
import fc from 'fast-check';
import { ROW_SIZE, SockDiag, decodeRows } from '../../../agent/sources/linux/sock-diag.js';
import { bytes, fuzz } from './support.js';

/** A packed row as the addon writes it: family, protocol, port (BE), inode, uid, ifindex, address. */
function row(v6: boolean, port: number): Buffer {
  const b = Buffer.alloc(ROW_SIZE);
  b[0] = v6 ? 6 : 4;
  b[1] = 6;
  b.writeUInt16BE(port, 2);
  b.writeUInt32LE(12345, 4);
  b.writeUInt32LE(2, 12);
  b[16] = 127;
  b[19] = 1;
  return b;
}

/** basics: pid u32, uid u32, ns link length u8 + text, stat length u16 + text. */
function basic(pid: number): Buffer {
  const ns = Buffer.from('net:[4026531840]');
  const stat = Buffer.from(`${pid} (sh) S 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0`);
  const head = Buffer.alloc(9);
  head.writeUInt32LE(pid, 0);
  head[8] = ns.length;
  const len = Buffer.alloc(2);
  len.writeUInt16LE(stat.length);
  return Buffer.concat([head, ns, len, stat]);
}

const anyValue = fc.oneof(
  fc.anything(),
  bytes(),
  fc.float64Array({ maxLength: 16 }),
  fc.record({ rows: fc.oneof(bytes(Buffer.concat([row(false, 22), row(true, 443)])), fc.anything()), ifnames: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()) }),
  fc.record({ pairs: fc.oneof(fc.uint32Array({ maxLength: 8 }), fc.anything()), denied: fc.anything(), read: fc.anything() }),
);

test('fuzz the packed rows of a dump (decodeRows): never throws', () => {
  fuzz(fc.tuple(bytes(Buffer.concat([row(false, 22), row(true, 443), row(false, 53)])), fc.dictionary(fc.string(), fc.string())),
    ([rows, ifnames]) => decodeRows({ rows, ifnames }));
});

test('fuzz what the addon returns to dump, basics, starts and holders: an answer or "unusable", never a throw', () => {
  const seeds = [Buffer.concat([basic(1), basic(4242)]), basic(7)];
  fuzz(fc.tuple(anyValue, bytes(...seeds)), ([value, packed]) => {
    const addon = {
      dump: () => value,
      basics: () => packed,
      starts: () => value,
      holders: () => value,
    };
    const sd = new SockDiag(addon);
    sd.dump();
    sd.dump('/proc/1/ns/net');
    sd.basics('/proc', new Uint32Array([1]));
    sd.starts('/proc', new Uint32Array([1]));
    sd.holders('/proc', new Uint32Array([1]), new Uint32Array([12345]));
    sd.socketProtocol('/proc/self/fd/0');
  });
});
