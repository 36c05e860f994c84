// The TCP/TLS batch encoder writes a whole batch into one buffer for speed: its bytes must be
// exactly those of the per-event encoder, whatever the values and however messages are cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, encodeStreamBatch } from '../../../../transports/syslog/encoder.js';
import { joined } from '../../../../transports/syslog/sender-stream.js';
import type { EncodeContext } from '../../../../transports/syslog/encoder-common.js';
import { listenerEvent, outbound } from '../../../../testkit/samples/syslog.js';

const ctx: EncodeContext = { facility: 16, appName: 'portwarden', sdId: 'portwarden@32473', procId: 4242, hostName: 'fb' };
const value = fc.string({ unit: fc.constantFrom('a', ' ', '\n', '\r', '\\', '"', ']', '=', '|', '\t', '\x1b', 'é', '日', '😀', '\ud800', '\udc00') });

test('a batch encodes to exactly the per-event frames, for every format and framing, cut or not', () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 6 }),
    fc.constantFrom('rfc5424', 'rfc3164', 'cef', 'leef'),
    fc.constantFrom('octet-counting', 'lf'),
    fc.integer({ min: 480, max: 1400 }),
    (values, format, framing, maxBytes) => {
      const batch = values.map(([name, cmd], i) => outbound(listenerEvent({ seq: i, name, commandLine: cmd.repeat(20) })));
      const got = encodeStreamBatch(format, framing, ctx, batch, maxBytes);
      const want = batch.map((ev) => encodeFrame(format, framing, ctx, ev, maxBytes));
      assert.deepEqual(got.frames.map((f) => f.toString('hex')), want.map((f) => f.bytes.toString('hex')));
      assert.equal(got.truncated, want.filter((f) => f.truncated).length);
      // One buffer: the sender writes the whole batch without copying it.
      const all = joined(got.frames);
      assert.equal(all.buffer, got.frames[0]?.buffer);
      assert.equal(all.length, want.reduce((n, f) => n + f.bytes.length, 0));
    },
  ), { numRuns: 300 });
});

test('frames from different buffers are joined by copying, in order', () => {
  const a = Buffer.from('3 abc');
  const b = Buffer.from('2 de');
  assert.equal(joined([a, b]).toString(), '3 abc2 de');
  assert.equal(joined([]).length, 0);
});
