import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getField } from '../../../../agent/ecs/document.js';
import { fixture } from '../../../../testkit/paths.js';
import { Harness, ids } from './harness.js';

// Sysmon writes User and ParentUser as DOMAIN\name (NT AUTHORITY\SYSTEM); SigmaHQ's rules match that
// form (User|contains: AUTHORI). The Windows collector fills user.name and user.domain apart (ECS).
const TSCON = '9847f263-4a81-424f-970c-875dab15b79b'; // SigmaHQ rules/windows/process_creation/proc_creation_win_tscon_localsystem.yml
const CROSS_USER = 'd2b7a134-9c3e-4f8a-b56d-e0c1f8a29b47'; // SigmaHQ proc_creation_win_susp_cross_user_process_spawn.yml (fieldref)

function engine(files: string[]) {
  const h = new Harness('windows');
  return { h, e: h.engine({ builtin_rules: false, baseline: { enabled: false }, rule_files: files }) };
}

test('Sigma User: tscon.exe as NT AUTHORITY\\SYSTEM fires (User|contains AUTHORI), a domain user does not; ECS fields keep their meaning', () => {
  const { h, e } = engine([fixture('sigma-extra', 'rules', 'proc_creation_win_tscon_localsystem.yml')]);
  const doc = (userName: string, userDomain?: string) => h.processDoc(h.chain(
    { name: 'cmd.exe', userName: 'alice', userDomain: 'CORP' },
    { name: 'tscon.exe', executable: 'C:\\Windows\\System32\\tscon.exe', commandLine: 'tscon 2 /dest:rdp-tcp#0', userName, ...(userDomain === undefined ? {} : { userDomain }) },
  ));
  const system = doc('SYSTEM', 'NT AUTHORITY');
  assert.equal(getField(system, 'user.name'), 'SYSTEM');
  assert.equal(getField(system, 'user.domain'), 'NT AUTHORITY');
  assert.deepEqual(ids(e.evaluate(system)), [TSCON]);
  assert.deepEqual(ids(e.evaluate(doc('SYSTEM', 'AUTORITE NT'))), [TSCON], 'French Windows: AUTORI');
  assert.deepEqual(ids(e.evaluate(doc('alice', 'CORP'))), []);
  assert.deepEqual(ids(e.evaluate(doc('SYSTEM'))), [], 'no domain known: the name alone does not hold AUTHORI');
});

test('Sigma ParentUser: the parent\'s DOMAIN\\name (endswith \\NETWORK SERVICE), and User|fieldref: ParentUser compares the whole account', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-sigma-user-'));
  try {
    const rule = join(dir, 'parent_user.yml');
    writeFileSync(rule, [
      'title: Child of a service account', 'id: 0f0e0d0c-0b0a-4909-8807-060504030201', 'status: test',
      'logsource: { category: process_creation, product: windows }',
      'detection:', '  selection:', "    ParentUser|endswith: ['\\NETWORK SERVICE', '\\LOCAL SERVICE']", '  condition: selection', 'level: medium', '',
    ].join('\n'));
    const { h, e } = engine([rule, fixture('sigma', 'rules', 'proc_creation_win_susp_cross_user_process_spawn.yml')]);
    const fire = (parent: [string, string], child: [string, string]) => ids(e.evaluate(h.processDoc(h.chain(
      { name: 'svchost.exe', executable: 'C:\\Windows\\System32\\svchost.exe', userName: parent[1], userDomain: parent[0] },
      { name: 'notepad.exe', executable: 'C:\\Windows\\notepad.exe', userName: child[1], userDomain: child[0] },
    )))).sort();
    assert.deepEqual(fire(['NT AUTHORITY', 'NETWORK SERVICE'], ['NT AUTHORITY', 'NETWORK SERVICE']), ['0f0e0d0c-0b0a-4909-8807-060504030201']);
    assert.deepEqual(fire(['CORP', 'alice'], ['CORP', 'alice']), []);
    // Same name in two domains: another account (Sysmon's User differs), so the cross-user rule fires.
    assert.deepEqual(fire(['CORP', 'alice'], ['LAB', 'alice']), [CROSS_USER]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
