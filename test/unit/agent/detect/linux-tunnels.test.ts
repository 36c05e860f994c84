// Class "tunnelling and port forwarding" (issue 21). Command lines come from public sources, cited
// beside each case; hosts and ports are replaced by documentation addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, firer } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const h = new Harness('linux');
const fire = firer(h, h.engine({ baseline: { enabled: false } }));
const run = (name: string, commandLine: string, executable = `/usr/bin/${name}`): P => ({ name, executable, commandLine });
const login = run('bash', '-bash');

const RULES = ['pw-ssh-remote-forward', 'pw-ssh-tunnel', 'pw-lnx-socat-relay', 'pw-lnx-tunnel-tool'];

const hits: { rule: string; p: P; source: string }[] = [
  // Elastic "Potential Linux Tunneling and/or Port Forwarding": ssh -R among combined flags
  { rule: 'pw-ssh-remote-forward', p: run('ssh', 'ssh -fNR 2222:127.0.0.1:22 relay@203.0.113.9'), source: 'Elastic tunneling rule, ssh combined flags with R' },
  // ssh(1): -R [bind_address:]port without a destination is a reverse SOCKS proxy
  { rule: 'pw-ssh-remote-forward', p: run('ssh', 'ssh -N -R 1080 relay@203.0.113.9'), source: 'ssh(1) reverse dynamic forward' },
  // Elastic "Potential Linux Tunneling and/or Port Forwarding via SSH Option": RemoteForward in -o
  { rule: 'pw-ssh-remote-forward', p: run('ssh', 'ssh -o RemoteForward=8443:127.0.0.1:443 relay@203.0.113.9'), source: 'Elastic ssh option rule, RemoteForward' },
  // Elastic tunneling rule: local forward -L
  { rule: 'pw-ssh-tunnel', p: run('ssh', 'ssh -N -L 3389:10.0.0.5:3389 user@203.0.113.9'), source: 'Elastic tunneling rule, ssh -L' },
  // Elastic tunneling rule: dynamic SOCKS forward -D among combined flags
  { rule: 'pw-ssh-tunnel', p: run('ssh', 'ssh -fND 1080 user@203.0.113.9'), source: 'Elastic tunneling rule, ssh -D' },
  // Elastic tunneling rule: tun device forwarding -w
  { rule: 'pw-ssh-tunnel', p: run('ssh', 'ssh -w 0:0 root@203.0.113.9'), source: 'Elastic tunneling rule, ssh -w' },
  // Elastic ssh option rule: DynamicForward / LocalForward / Tunnel given with -o (any case)
  { rule: 'pw-ssh-tunnel', p: run('ssh', 'ssh -o dynamicforward=1080 -N user@203.0.113.9'), source: 'Elastic ssh option rule, DynamicForward' },
  { rule: 'pw-ssh-tunnel', p: run('ssh', 'ssh -o "LocalForward 5901 127.0.0.1:5901" user@203.0.113.9'), source: 'Elastic ssh option rule, LocalForward' },
  { rule: 'pw-ssh-tunnel', p: run('ssh', 'ssh -o Tunnel=point-to-point -o TunnelDevice=0:0 root@203.0.113.9'), source: 'Elastic ssh option rule, Tunnel' },
  // Elastic tunneling rule: socat TCP4-LISTEN relay
  { rule: 'pw-lnx-socat-relay', p: run('socat', 'socat TCP4-LISTEN:8080,fork TCP4:10.0.0.5:80'), source: 'Elastic tunneling rule, socat TCP4-LISTEN' },
  // HackTricks "Tunneling and Port Forwarding" (referenced by Elastic's rule): socat port forward and SOCKS
  { rule: 'pw-lnx-socat-relay', p: run('socat', 'socat tcp-listen:1337,reuseaddr,fork socks4a:127.0.0.1:10.0.0.5:22,socksport=1080'), source: 'HackTricks socat via SOCKS' },
  // HackTricks: socat reverse relay (both sides outbound)
  { rule: 'pw-lnx-socat-relay', p: run('socat', 'socat TCP:203.0.113.9:443 TCP:127.0.0.1:22'), source: 'HackTricks socat reverse relay' },
  // Elastic "Potential Protocol Tunneling via Chisel Client": client with R: and socks arguments
  { rule: 'pw-lnx-tunnel-tool', p: run('chisel', 'chisel client 203.0.113.9:8000 R:socks'), source: 'Elastic chisel client rule' },
  // Same, renamed binary in /tmp: caught by its argument shape
  { rule: 'pw-lnx-tunnel-tool', p: run('updater', '/tmp/updater client 203.0.113.9:8000 R:8001:127.0.0.1:9001', '/tmp/updater'), source: 'Elastic chisel client rule, renamed' },
  // Elastic "Potential Protocol Tunneling via Chisel Server": server --reverse
  { rule: 'pw-lnx-tunnel-tool', p: run('svc', './svc server -p 8000 --reverse', '/home/a/svc'), source: 'Elastic chisel server rule, renamed' },
  // Elastic tunneling rule: gost -L / -F
  { rule: 'pw-lnx-tunnel-tool', p: run('gost', 'gost -L rtcp://:2222/127.0.0.1:22 -F socks5://203.0.113.9:1080'), source: 'Elastic tunneling rule, gost' },
  { rule: 'pw-lnx-tunnel-tool', p: run('kworker', '/dev/shm/kworker -L=tcp://:8080/10.0.0.5:80', '/dev/shm/kworker'), source: 'gost README forward form, renamed' },
  // Elastic tunneling rule: ngrok, iodine by name
  { rule: 'pw-lnx-tunnel-tool', p: run('ngrok', 'ngrok tcp 22'), source: 'Elastic tunneling rule, ngrok' },
  { rule: 'pw-lnx-tunnel-tool', p: run('iodine', 'iodine -f -P secret 203.0.113.9 t.example.org', '/usr/sbin/iodine'), source: 'Elastic iodine rule' },
  // frp README: frpc -c ./frpc.toml, renamed
  { rule: 'pw-lnx-tunnel-tool', p: run('dbus-helper', './dbus-helper -c ./frpc.toml', '/var/tmp/dbus-helper'), source: 'frp README, renamed client' },
  // ligolo-ng README: agent -connect ... -ignore-cert, renamed
  { rule: 'pw-lnx-tunnel-tool', p: run('agent', './agent -connect 203.0.113.9:11601 -ignore-cert', '/tmp/agent'), source: 'ligolo-ng README agent' },
];

const misses: P[] = [
  run('ssh', 'ssh -l deploy -p 2222 app01'),
  run('ssh', 'ssh -i /home/a/.ssh/id_ed25519 git@github.com git-upload-pack x'),
  run('ssh', 'ssh -o StrictHostKeyChecking=no -o ConnectTimeout=5 app01 uptime'),
  run('socat', 'socat - UNIX-CONNECT:/var/run/docker.sock'),
  run('socat', 'socat -d -d pty,raw,echo=0 pty,raw,echo=0'),
  run('curl', 'curl -L https://example.org/install.tar.gz -o /tmp/i.tgz'),
  run('redis-cli', 'redis-cli --no-auth-warning client list'),
  run('openvpn', 'openvpn --client --remote vpn.example.org 1194'),
  run('sshd', 'sshd: deploy [priv]'),
];

for (const c of hits) {
  test(`${c.rule}: ${c.source}`, () => {
    assert.ok(fire(login, c.p).includes(c.rule), `expected ${c.rule} on ${String(c.p.commandLine)}`);
  });
}

test('plain ssh, local socat, curl -L and client sub-commands raise no tunnelling alert', () => {
  for (const p of misses) assert.deepEqual(fire(login, p).filter((r) => RULES.includes(r)), [], String(p.commandLine));
});

test('an ssh -L by an administrator is low severity; -R is medium', () => {
  const engine = h.engine({ baseline: { enabled: false } });
  const sev = (cmd: string, rule: string) => engine.evaluate(h.processDoc(h.chain(login, run('ssh', cmd))))
    .find((a) => (a.rule as { id: string }).id === rule)?.event.severity;
  assert.equal(sev('ssh -L 5432:db:5432 bastion', 'pw-ssh-tunnel'), 21);
  assert.equal(sev('ssh -R 2222:localhost:22 relay', 'pw-ssh-remote-forward'), 47);
});
