import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { join } from 'node:path';
import { decodeNetstatOutput, normaliseState, parseNetstat } from '../../../../../agent/sources/windows/netstat-parse.js';
import { listenersFromNetstat } from '../../../../../agent/sources/windows/listeners.js';
import { fixture, sharedDir } from '../../../../../testkit/paths.js';

const read = (name: string) => readFileSync(fixture('windows', name));

test('en-US netstat -aon (jc fixture): listeners are TCP rows with foreign port 0 and every UDP row', () => {
  const text = decodeNetstatOutput(read('windows-netstat-aon-en-US.txt'));
  const { rows, warnings } = parseNetstat(text);
  assert.deepEqual(warnings, []);
  const tcpListen = rows.filter((r) => r.transport === 'tcp' && r.listener);
  assert.equal(tcpListen.length, 39, 'one listener per LISTENING row');
  assert.ok(tcpListen.every((r) => r.state === 'LISTENING'), 'foreign port 0 agrees with the state word');
  assert.ok(rows.filter((r) => r.transport === 'tcp' && !r.listener).every((r) => r.state !== 'LISTENING'));
  const rpc = rows.find((r) => r.transport === 'tcp' && r.port === 135 && r.address === '0.0.0.0');
  assert.deepEqual([rpc?.pid, rpc?.foreignPort], [1712, 0]);
  assert.ok(rows.some((r) => r.transport === 'tcp' && r.address === '::' && r.port === 135 && r.listener));
  const zoned = rows.find((r) => r.transport === 'udp' && r.address === 'fe80::244e:2f1e:2096:62b2%9');
  assert.deepEqual([zoned?.port, zoned?.pid, zoned?.listener], [1900, 8844, true], 'over-long zone-id column still parses');
  assert.equal(rows.filter((r) => r.transport === 'udp').length, 137);
});

test('en-US netstat -aonb (jc fixture): service and image lines attach to their row', () => {
  const { rows } = parseNetstat(decodeNetstatOutput(read('windows-netstat-aonb-en-US.txt')));
  const rpc = rows.find((r) => r.transport === 'tcp' && r.port === 135 && r.address === '0.0.0.0');
  assert.deepEqual([rpc?.serviceName, rpc?.imageName], ['RpcSs', 'svchost.exe']);
  const https = rows.find((r) => r.transport === 'tcp' && r.port === 443 && r.address === '0.0.0.0');
  assert.deepEqual([https?.serviceName, https?.imageName], [undefined, 'vmware-hostd.exe']);
  const smb = rows.find((r) => r.transport === 'tcp' && r.port === 445 && r.address === '0.0.0.0');
  assert.deepEqual([smb?.pid, smb?.serviceName, smb?.imageName], [4, undefined, undefined], '"Can not obtain ownership information" is no service');
  assert.equal(rows.filter((r) => r.transport === 'tcp' && r.listener).length, 51);
  const listeners = listenersFromNetstat(read('windows-netstat-aonb-en-US.txt'), []);
  assert.equal(listeners.find((l) => l.port === 5040)?.serviceName, 'CDPSvc');
});

test('fr-FR raw CP850 output: localised header with no PID word, IPv6 zones, UDP', () => {
  const bytes = read('netstat-ano-fr-FR-cp850.txt');
  const text = decodeNetstatOutput(bytes);
  assert.match(text, /État/, 'CP850 0x90 decodes to É');
  const listeners = listenersFromNetstat(bytes, []);
  const keys = listeners.map((l) => `${l.transport} ${l.address}${l.zone === undefined ? '' : `%${l.zone}`} ${l.port} ${l.owners.join(',')}`);
  assert.deepEqual(keys, [
    'tcp 0.0.0.0 135 1020', 'tcp 0.0.0.0 3389 1184', 'tcp 0.0.0.0 445 4', 'tcp 127.0.0.1 5354 3412',
    'tcp 192.168.1.20 139 4', 'tcp :: 135 1020', 'tcp :: 3389 1184', 'tcp ::1 5354 3412',
    'tcp fe80::1c2d:3e4f:5a6b:7c8d%12 2869 4',
    'udp 0.0.0.0 3389 1184', 'udp 0.0.0.0 5353 2208', 'udp 127.0.0.1 1900 3920', 'udp :: 3389 1184',
    'udp fe80::1c2d:3e4f:5a6b:7c8d%12 1900 3920',
  ]);
  const zoned = listeners.find((l) => l.port === 2869);
  assert.deepEqual([zoned?.family, zoned?.address, zoned?.zone], ['ipv6', 'fe80::1c2d:3e4f:5a6b:7c8d', '12']);
  assert.ok(listeners.every((l) => l.netns === 'host' && l.inode === 0));
});

test('de-DE raw CP850 output: German states (ABHÖREN with OEM byte 0x99) are recognised', () => {
  const bytes = read('netstat-ano-de-DE-cp850.txt');
  assert.ok(bytes.includes(Buffer.from('ABH\x99REN', 'latin1')), 'fixture holds the raw OEM byte');
  const { rows } = parseNetstat(decodeNetstatOutput(bytes));
  assert.deepEqual(rows.filter((r) => r.transport === 'tcp').map((r) => r.state), [
    'LISTENING', 'LISTENING', 'LISTENING', 'ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT', 'LISTENING', 'LISTENING',
  ]);
  assert.deepEqual(rows.filter((r) => r.listener).map((r) => `${r.transport}:${r.port}`), [
    'tcp:135', 'tcp:3389', 'tcp:5985', 'tcp:135', 'tcp:3389', 'udp:123', 'udp:546',
  ]);
  // Read as UTF-8 by mistake (no code page conversion) the word is mojibake, and still a listener.
  const { rows: utf8Rows } = parseNetstat(bytes.toString('utf8'));
  assert.equal(utf8Rows[0]?.state, 'LISTENING');
});

test('mojibake forms of ABHÖREN all normalise to LISTENING; unknown words pass through', () => {
  for (const w of ['ABHÖREN', 'ABH™REN', 'ABH\uFFFDREN', 'ABHÃ\u0096REN', 'abhören', 'LISTENING']) {
    assert.equal(normaliseState(w), 'LISTENING', w);
  }
  assert.equal(normaliseState('HERGESTELLT'), 'ESTABLISHED');
  assert.equal(normaliseState('ÉCOUTE'), 'ÉCOUTE');
});

test('malformed rows become warnings, never listeners', () => {
  const { rows, warnings } = parseNetstat('  TCP    0.0.0.0:99999     0.0.0.0:0    LISTENING   1\r\n  UDP    garbage\r\n');
  assert.equal(rows.length, 0);
  assert.equal(warnings.length, 2);
});

test('research fixtures (read in place, not copied: licence) parse when ../shared is present', (t) => {
  const dir = join(sharedDir, 'research', 'fixtures');
  const fr = join(dir, 'windows-netstat-ano-fr-FR.txt');
  if (!existsSync(fr)) { t.skip('research fixtures not present'); return; }
  const { rows, warnings } = parseNetstat(decodeNetstatOutput(readFileSync(fr)));
  assert.deepEqual(warnings, []);
  const listening = rows.filter((r) => r.transport === 'tcp' && r.state === 'LISTENING');
  assert.ok(listening.length > 0);
  assert.ok(listening.every((r) => r.listener), 'foreign port 0 for every LISTENING row');
  assert.ok(rows.filter((r) => r.listener && r.transport === 'tcp').every((r) => r.state === 'LISTENING'), 'no false positives');
  assert.ok(rows.some((r) => r.transport === 'udp' && r.address === 'fe80::f040:a670:6dcc:b24a%23' && r.port === 56063));
});

test('property: any well-formed listener row round-trips, whatever the column padding and line ending', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
  const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
  const zone = fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined });
  fc.assert(fc.property(fc.boolean(), fc.oneof(v4, v6), zone, fc.integer({ min: 0, max: 65535 }), fc.nat(99999),
    fc.integer({ min: 1, max: 12 }), fc.constantFrom('\r\n', '\n'), fc.constantFrom('LISTENING', 'ABHÖREN', 'ABH\uFFFDREN'),
    (tcp, addr, z, port, pid, pad, eol, state) => {
      const v6addr = addr.includes(':');
      const local = v6addr ? `[${addr}${z === undefined ? '' : `%${z}`}]:${port}` : `${addr}:${port}`;
      const sp = ' '.repeat(pad);
      const line = tcp
        ? `  TCP${sp}${local}${sp}${v6addr ? '[::]:0' : '0.0.0.0:0'}${sp}${state}${sp}${pid}`
        : `  UDP${sp}${local}${sp}*:*${sp}${pid}`;
      const { rows, warnings } = parseNetstat(`\r\nActive Connections${eol}${eol}  Proto  Local Address${eol}${line}${eol}`);
      const r = rows[0];
      return warnings.length === 0 && rows.length === 1 && r !== undefined && r.listener && r.port === port && r.pid === pid &&
        r.address === (v6addr && z !== undefined ? `${addr}%${z}` : addr) && (!tcp || r.state === 'LISTENING');
    }));
});
