import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../../agent/app/config.js';
import { deployDir, readDeploy } from './content.js';

const UNIT = join(deployDir, 'linux', 'portwarden.service');
const NETNS = join(deployDir, 'linux', 'portwarden.service.d', 'network-namespaces.conf');

function analyze(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error !== undefined) throw new Error(`systemd-analyze is needed (Debian package systemd): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A unit dir for SYSTEMD_UNIT_PATH; ExecStart's node is this node when /usr/bin/node is absent. */
function unitDir(t: { after: (fn: () => void) => void; diagnostic: (s: string) => void }, dropIns: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-unit-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  let unit = readFileSync(UNIT, 'utf8');
  if (!existsSync('/usr/bin/node')) {
    t.diagnostic(`no /usr/bin/node here: verifying with ExecStart=${process.execPath} (what install.sh writes as a drop-in)`);
    unit = unit.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
  }
  writeFileSync(join(dir, 'portwarden.service'), unit);
  if (dropIns.length > 0) mkdirSync(join(dir, 'portwarden.service.d'));
  for (const d of dropIns) copyFileSync(d, join(dir, 'portwarden.service.d', d.split('/').pop() ?? 'x.conf'));
  return dir;
}

/** `Key=value` lines of a unit (repeated keys joined with a space, as systemd merges lists). */
function keys(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (kv === null) continue;
    const prev = m.get(kv[1] ?? '');
    m.set(kv[1] ?? '', prev === undefined ? kv[2] ?? '' : `${prev} ${kv[2] ?? ''}`);
  }
  return m;
}

test('systemd-analyze verify accepts the unit, alone and with the network-namespaces drop-in, without a warning', (t) => {
  for (const dropIns of [[], [NETNS]]) {
    const dir = unitDir(t, dropIns);
    const r = analyze(['verify', 'portwarden.service'], { SYSTEMD_UNIT_PATH: `${dir}:` });
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), '', `verify printed warnings:\n${r.out}`);
  }
});

test('verify would catch a misspelt key (the check above can fail)', (t) => {
  const dir = unitDir(t);
  const file = join(dir, 'portwarden.service');
  writeFileSync(file, readFileSync(file, 'utf8').replace('ProtectHome=yes', 'ProtectHomes=yes'));
  const r = analyze(['verify', 'portwarden.service'], { SYSTEMD_UNIT_PATH: `${dir}:` });
  assert.match(r.out, /Unknown key 'ProtectHomes'/);
});

test('the unit runs unprivileged with the owner and real-time capabilities only, and a strict sandbox', () => {
  const k = keys(readDeploy('linux', 'portwarden.service'));
  const caps = (v: string | undefined) => (v ?? '').split(/\s+/).filter((c) => c !== '').sort();
  const wanted = ['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_SYS_PTRACE'];
  assert.deepEqual(caps(k.get('AmbientCapabilities')), wanted);
  assert.deepEqual(caps(k.get('CapabilityBoundingSet')), wanted);
  // The polling-only drop-in resets both sets to the two that attribute owners.
  const polling = readFileSync(join(deployDir, 'linux', 'portwarden.service.d', 'polling-only.conf'), 'utf8');
  assert.match(polling, /^AmbientCapabilities=\nAmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH$/m);
  assert.match(polling, /^CapabilityBoundingSet=\nCapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH$/m);
  const expected: Record<string, string> = {
    User: 'portwarden', NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes',
    PrivateDevices: 'yes', RestrictNamespaces: 'yes', Restart: 'on-failure', RestrictSUIDSGID: 'yes', LockPersonality: 'yes',
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(k.get(key), value, key);
  assert.deepEqual(caps(k.get('RestrictAddressFamilies')), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  assert.match(k.get('SystemCallFilter') ?? '', /^@system-service ~@privileged bpf perf_event_open$/);
  assert.equal(k.get('ProtectProc'), undefined, 'ProtectProc would hide other users\' processes');
  assert.equal(k.get('ProcSubset'), undefined, 'ProcSubset=pid would hide /proc/stat and boot_id');
  const extra = keys(readFileSync(NETNS, 'utf8'));
  assert.equal(extra.get('AmbientCapabilities'), 'CAP_SYS_ADMIN');
  assert.equal(extra.get('RestrictNamespaces'), 'net', 'setns into a net namespace must stay allowed for nsenter');
});

test('the shipped config validates and writes only where the unit allows', () => {
  const file = join(deployDir, 'linux', 'portwarden.yml');
  const { config } = loadConfig(file, {});
  const writable = (keys(readDeploy('linux', 'portwarden.service')).get('ReadWritePaths') ?? '').split(/\s+/);
  const inside = (p: string) => writable.some((w) => p === w || p.startsWith(`${w}/`));
  assert.ok(config.state_dir !== undefined && inside(config.state_dir), `state_dir ${String(config.state_dir)} not writable`);
  for (const o of config.outputs) if (o.type === 'file') assert.ok(inside(dirname(String(o.path))), `file output ${String(o.path)} not writable`);
  if (config.log.file !== undefined) assert.ok(inside(dirname(config.log.file)));
});

test('systemd-analyze security rates the unit OK (exposure <= 3.0), and the drop-in costs CAP_SYS_ADMIN', (t) => {
  const level = (dropIns: string[]) => {
    const r = analyze(['security', '--offline=yes', 'portwarden.service'], { SYSTEMD_UNIT_PATH: `${unitDir(t, dropIns)}:` });
    const m = /Overall exposure level for portwarden\.service: ([\d.]+)/.exec(r.out);
    assert.ok(m !== null, r.out);
    return { score: Number(m[1]), out: r.out };
  };
  const base = level([]);
  const netns = level([NETNS]);
  t.diagnostic(`exposure: ${base.score} (with network-namespaces.conf: ${netns.score})`);
  assert.ok(base.score <= 3.0, `exposure ${base.score}`);
  assert.match(base.out, /✓ CapabilityBoundingSet=~CAP_SYS_ADMIN/);
  assert.match(netns.out, /✗ CapabilityBoundingSet=~CAP_SYS_ADMIN/);
  assert.ok(netns.score > base.score);
});
