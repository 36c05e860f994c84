// A shell started by a process that listens: a bind shell, whatever its command line. Shapes from
// public sources, cited beside each case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, ids } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const RULE = 'pw-listener-owner-spawned-shell';

/** Starts `owner` under a login shell, has it listen on `port`, then starts `child` under it; the rule's alerts for the child. */
function bind(os: 'linux' | 'windows', owner: P, child: P, port = 4444, listens = true): { sev: number | undefined; rules: string[] } {
  const h = new Harness(os);
  const e = h.engine({ baseline: { enabled: false } });
  const o = h.chain(os === 'linux' ? { name: 'bash', commandLine: '-bash' } : { name: 'explorer.exe' }, owner);
  e.evaluate(h.processDoc(o));
  if (listens) e.evaluate(h.listenerDoc(o, '0.0.0.0', port));
  const alerts = e.evaluate(h.processDoc(h.spawn(o, child)));
  const a = alerts.find((x) => (x.rule as { id: string }).id === RULE);
  return { sev: a?.event.severity, rules: ids(alerts) };
}

test('netcat, socat, PowerShell and cmd that listen and start a shell fire high', () => {
  // ncat(1) guide, "Bind shell": ncat --exec "/bin/bash" -l 8081 --keep-open
  assert.equal(bind('linux', { name: 'ncat', commandLine: 'ncat --exec /bin/bash -l 8081 --keep-open' }, { name: 'bash', commandLine: '/bin/bash' }, 8081).sev, 73);
  // PayloadsAllTheThings "Bind Shell Cheatsheet", socat: socat TCP-LISTEN:15151,reuseaddr,fork EXEC:bash,pty,stderr,setsid,sigint,sane
  assert.equal(bind('linux', { name: 'socat', commandLine: 'socat TCP-LISTEN:15151,reuseaddr,fork EXEC:bash,pty,stderr,setsid,sigint,sane' }, { name: 'bash', commandLine: 'bash' }, 15151).sev, 73);
  // powercat README: powercat -l -p 8000 -e cmd (powershell.exe accepts, then starts cmd.exe with a bare command line)
  assert.equal(bind('windows', { name: 'powershell.exe', commandLine: 'powershell' }, { name: 'cmd.exe', commandLine: '"cmd"' }, 8000).sev, 73);
});

test('a listening interpreter that starts a shell fires medium (notebooks and dev servers do this too)', () => {
  // PayloadsAllTheThings "Bind Shell Cheatsheet", Python: socket bind + subprocess of /bin/bash
  assert.equal(bind('linux', { name: 'python3', commandLine: 'python3 -c import socket as s,subprocess as sp;s1=s.socket(s.AF_INET,s.SOCK_STREAM);s1.bind(("0.0.0.0",51337));s1.listen(1);c,a=s1.accept();sp.Popen(["/bin/sh","-i"],stdin=c.fileno(),stdout=c.fileno(),stderr=c.fileno())' }, { name: 'sh', commandLine: '/bin/sh -i' }, 51337).sev, 47);
});

test('no alert: a server that is not a relay, a relay that does not listen, a non-shell child, a pid reused after exec', () => {
  assert.ok(!bind('linux', { name: 'sshd', commandLine: 'sshd: /usr/sbin/sshd -D' }, { name: 'bash', commandLine: '-bash' }, 22).rules.includes(RULE));
  assert.ok(!bind('linux', { name: 'ncat', commandLine: 'ncat 198.51.100.7 80' }, { name: 'sh', commandLine: 'sh' }, 0, false).rules.includes(RULE));
  assert.ok(!bind('linux', { name: 'socat', commandLine: 'socat TCP-LISTEN:8080,fork TCP:db:5432' }, { name: 'socat', commandLine: 'socat TCP-LISTEN:8080,fork TCP:db:5432' }, 8080).rules.includes(RULE));
  // The listener's pid execs another program: the old listener no longer counts for it.
  const h = new Harness('linux');
  const e = h.engine({ baseline: { enabled: false } });
  const nc = h.chain({ name: 'bash', commandLine: '-bash' }, { name: 'nc', commandLine: 'nc -l 5000' });
  e.evaluate(h.listenerDoc(nc, '0.0.0.0', 5000));
  e.evaluate(h.processDoc(nc, 'exec'));
  assert.ok(!ids(e.evaluate(h.processDoc(h.spawn(nc, { name: 'sh' })))).includes(RULE));
});
