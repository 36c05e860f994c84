// Class "privilege changes" of issue 21: effective uid != real uid (setuid programs and what they
// start). Shapes from public sources, cited beside each case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getField } from '../../../../agent/ecs/document.js';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { Harness, firer } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const h = new Harness('linux');
const fire = firer(h, h.engine({ baseline: { enabled: false } }));
const alice = { uid: 1000, userName: 'alice', realUid: 1000, realUserName: 'alice' };
/** Running setuid root for alice: effective uid 0, real uid 1000. */
const suid = { uid: 0, userName: 'root', realUid: 1000, realUserName: 'alice' };
const root = { uid: 0, userName: 'root', realUid: 0, realUserName: 'root' };
const login: P = { name: 'bash', commandLine: '-bash', ...alice };
const p = (name: string, commandLine: string, ids: Partial<ProcessRecord>): P => ({ name, executable: `/usr/bin/${name}`, commandLine, ...ids });

test('GTFOBins SUID find: find . -exec /bin/sh -p \\; -quit', () => {
  const rules = fire(login, p('find', 'find . -exec /bin/sh -p ; -quit', suid), p('sh', '/bin/sh -p', suid));
  assert.ok(rules.includes('pw-lnx-setuid-shell'), rules.join(','));
  assert.ok(rules.includes('pw-lnx-setuid-program-shell'), rules.join(','));
  // The setuid find itself is not a program a distribution ships setuid.
  assert.ok(fire(login, p('find', 'find . -exec /bin/sh -p ; -quit', suid)).includes('pw-lnx-unknown-setuid-root'));
});

test('GTFOBins SUID python: python -c \'import os; os.execl("/bin/sh", "sh", "-p")\'', () => {
  assert.ok(fire(login, p('python3', 'python3 -c import os; os.execl("/bin/sh", "sh", "-p")', suid)).includes('pw-lnx-setuid-shell'));
});

test('Atomic Red Team T1548.001 #1: a setuid copy made with chown root + chmod u+s, run by a user', () => {
  const rules = fire(login, { name: 'hello', executable: '/tmp/hello', commandLine: '/tmp/hello', ...suid });
  assert.ok(rules.includes('pw-lnx-unknown-setuid-root'), rules.join(','));
});

test('no alert: sudo, su and passwd as designed, a root shell from sudo, daemons that drop only their effective uid', () => {
  assert.deepEqual(fire(login, p('sudo', 'sudo -i', suid)), []);
  assert.deepEqual(fire(login, p('sudo', 'sudo -i', suid), p('bash', '-bash', root)).filter((r) => r.startsWith('pw-lnx-setuid') || r === 'pw-lnx-unknown-setuid-root'), []);
  assert.deepEqual(fire(login, p('su', 'su -', suid), p('bash', '-bash', root)).filter((r) => r.startsWith('pw-lnx-setuid') || r === 'pw-lnx-unknown-setuid-root'), []);
  assert.deepEqual(fire(login, p('passwd', 'passwd', suid)), []);
  // smbd impersonates a user with seteuid: effective 1000, real 0 is not a gain of root.
  assert.deepEqual(fire({ name: 'systemd', ...root }, p('smbd', '/usr/sbin/smbd --foreground', { uid: 1000, userName: 'alice', realUid: 0, realUserName: 'root' })), []);
  // A plain user shell and a plain root shell.
  assert.deepEqual(fire(login, p('bash', 'bash', alice)), []);
  // Without the real uid (an old recording), nothing is assumed.
  assert.ok(!fire(login, { name: 'hello', executable: '/usr/local/bin/hello', uid: 0, userName: 'root' }).includes('pw-lnx-unknown-setuid-root'));
});

test('process.user.id is the effective uid and process.real_user.id the real one, as valid ECS', () => {
  const node = h.chain(login, p('find', 'find . -exec /bin/sh -p ; -quit', suid));
  const doc = h.processDoc(node);
  assert.deepEqual(ecsProblems(doc), []);
  assert.equal(getField(doc, 'process.user.id'), '0');
  assert.equal(getField(doc, 'process.real_user.id'), '1000');
  assert.equal(getField(doc, 'process.real_user.name'), 'alice');
  assert.equal(getField(doc, 'process.parent.real_user.id'), '1000');
});
