import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRsyslog } from '../../../testkit/peers/rsyslog.js';
import { makeSyslog, send } from './drive.js';
import { listenerEvent, outbound } from '../../../testkit/samples/syslog.js';
import { memoryLogger } from '../../../agent/log/logger.js';

type Sd = Record<string, Record<string, string>>;

test('SD values with " \\ ] and unicode, newlines and 10 KB command lines survive rsyslog', async (t) => {
  const peer = await startRsyslog();
  t.after(() => peer.dispose());
  const tricky = 'we"ird\\na]me ü 🚀';
  const longCmd = `python3 -c "${'print(\'ünï\\ncödé\')\n'.repeat(500)}" ${'x'.repeat(500)}`;
  assert.ok(Buffer.byteLength(longCmd) > 10_000);
  const docs = [listenerEvent({ seq: 1, name: tricky }), listenerEvent({ seq: 2, name: 'sshd\nfake', commandLine: longCmd })];
  for (const framing of ['octet-counting', 'lf'] as const) {
    const out = await makeSyslog(t, { port: peer.tcpPort, framing, app_name: `esc-${framing}` });
    assert.deepEqual(await send(out, docs.map(outbound)), { kind: 'ok' });
  }
  const recs = await peer.waitFor((r) => r.length >= 4);
  assert.equal(recs.length, 4);
  for (const rec of recs) {
    const doc = docs.find((d) => rec.msgid === d.event.action && rec.rawmsg.includes(d.event.id));
    assert.ok(doc);
    assert.deepEqual(JSON.parse(rec.msg), doc, 'MSG is the exact ECS document');
    const sd = (JSON.parse(rec.sd) as Sd)['portwarden@32473'];
    const name = (doc.process as { name: string }).name;
    // Control characters become spaces in SD (the exact value is in MSG); everything else is exact.
    assert.equal(sd?.process, name.replace(/\n/g, ' '));
  }
});

test('a 60 KB message over TCP arrives whole', async (t) => {
  const peer = await startRsyslog();
  t.after(() => peer.dispose());
  const out = await makeSyslog(t, { port: peer.tcpPort });
  const doc = listenerEvent({ commandLine: `java ${'-Dkey=välue '.repeat(5000)}`.slice(0, 60_000) });
  const ev = outbound(doc);
  assert.ok(Buffer.byteLength(ev.json) > 60_000);
  assert.deepEqual(await send(out, [ev]), { kind: 'ok' });
  const [rec] = await peer.waitFor((r) => r.length >= 1);
  assert.equal(rec?.msg, ev.json);
  assert.equal(out.stats().truncated, 0);
});

test('UDP: a message over the cap is cut on a UTF-8 boundary, counted and reported once', async (t) => {
  const peer = await startRsyslog();
  t.after(() => peer.dispose());
  const logger = memoryLogger();
  const out = await makeSyslog(t, { port: peer.udpPort, protocol: 'udp', max_message_bytes: 1500 }, { logger });
  const small = outbound(listenerEvent({ seq: 1 }));
  const big = outbound(listenerEvent({ seq: 2, commandLine: '日本語'.repeat(400) }));
  assert.ok(Buffer.byteLength(small.json) < 1300);
  assert.deepEqual(await send(out, [small, big, big]), { kind: 'ok' });
  const recs = await peer.waitFor((r) => r.length >= 3);
  const cut = recs.filter((r) => r.rawmsg.includes(big.doc.event.id));
  assert.equal(cut.length, 2);
  for (const r of cut) {
    const bytes = Buffer.byteLength(r.rawmsg);
    assert.ok(bytes <= 1500 && bytes >= 1497, `cut to the cap, got ${bytes}`);
    assert.ok(!r.rawmsg.includes('\ufffd'), 'no broken character');
    assert.ok(r.rawmsg.endsWith('日') || r.rawmsg.endsWith('本') || r.rawmsg.endsWith('語'));
  }
  assert.deepEqual(JSON.parse(recs.find((r) => r.rawmsg.includes(small.doc.event.id))?.msg ?? ''), small.doc);
  assert.deepEqual(out.stats(), { reconnects: 0, resent: 0, connected: true, sent: 3, truncated: 2 });
  await out.shutdown();
  const warnings = logger.records.filter((r) => r.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.message ?? '', /truncated 2 messages to max_message_bytes=1500/);
});
