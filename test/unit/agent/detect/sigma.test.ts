import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleFile } from '../../../../agent/detect/load.js';
import { ConfigError } from '../../../../agent/util/errors.js';
import { Harness, ids } from './harness.js';
import type { ProcessRecord } from '../../../../agent/sources/types.js';

// Shaped like SigmaHQ's web-server-child rules (written here, not copied).
const SIGMA = `title: Shell spawned by IIS worker
id: 8f2b7a61-0c5e-4d8e-9d0a-2f3c1e5b7a10
status: test
description: w3wp.exe started a shell that runs discovery commands.
references:
  - https://example.org/webshells
tags:
  - attack.persistence
  - attack.t1505.003
logsource:
  category: process_creation
  product: windows
detection:
  selection_parent:
    ParentImage|endswith: '\\w3wp.exe'
  selection_child:
    - Image|endswith:
        - '\\cmd.exe'
        - '\\powershell.exe'
    - OriginalFileName: 'Cmd.Exe'
  selection_recon:
    CommandLine|contains|all:
      - 'net'
      - 'user'
  filter_health:
    CommandLine|contains: 'healthcheck'
  condition: selection_parent and 1 of selection_c* and selection_recon and not filter_health
level: high
---
title: Encoded PowerShell
id: 2c1d
logsource: { category: process_creation, product: windows }
detection:
  sel: { CommandLine|re: '\\s-enc\\s' }
  condition: sel
level: medium
`;

function files(t: { after: (fn: () => void) => void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-sigma-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeFileSync(join(dir, 'rules.yml'), text);
  return join(dir, 'rules.yml');
}

test('Sigma process_creation rules load and fire with Sigma semantics (case-insensitive, modifiers, 1 of, not)', (t) => {
  const file = files(t, SIGMA);
  const rules = loadRuleFile(file);
  assert.deepEqual(rules.map((r) => r.meta.id), ['8f2b7a61-0c5e-4d8e-9d0a-2f3c1e5b7a10', '2c1d']);
  const first = rules[0];
  assert.ok(first);
  assert.equal(first.meta.severity, 73);
  assert.equal(first.meta.threat.subtechnique?.id, 'T1505.003');
  assert.equal(first.meta.threat.tactic.id, 'TA0003');
  const h = new Harness('windows');
  const e = h.engine({ builtin_rules: false, baseline: { enabled: false }, rule_files: [file] });
  const w3wp = { name: 'w3wp.exe', executable: 'C:\\Windows\\System32\\inetsrv\\w3wp.exe' };
  const fire = (cmd: string, exe = 'C:\\Windows\\System32\\CMD.EXE') => ids(e.evaluate(h.processDoc(h.chain(w3wp, { name: 'cmd.exe', executable: exe, commandLine: cmd }))));
  assert.deepEqual(fire('cmd /c NET USER'), ['8f2b7a61-0c5e-4d8e-9d0a-2f3c1e5b7a10']);
  assert.deepEqual(fire('cmd /c net localgroup'), [], '|all: both words needed');
  assert.deepEqual(fire('cmd /c net user healthcheck'), [], 'the filter holds');
  assert.deepEqual(fire('cmd /c net user', 'C:\\Windows\\System32\\whoami.exe'), [], 'neither child selection holds');
  assert.deepEqual(fire('powershell -enc AAAA'), ['2c1d']);
});

test('unsupported Sigma constructs are errors naming the file, the rule and the reason', (t) => {
  const check = (text: string, key: RegExp, message?: RegExp) => {
    const file = files(t, text);
    assert.throws(() => loadRuleFile(file), (err: unknown) => err instanceof ConfigError && err.file === file && key.test(err.keyPath) && (message?.test(err.message) ?? true));
  };
  check(SIGMA.replace('ParentImage|endswith:', 'ParentImage|expand:'), /^sigma rule 8f2b7a61-0c5e-4d8e-9d0a-2f3c1e5b7a10$/, /modifier "expand"/);
  check(SIGMA.replace("CommandLine|contains: 'healthcheck'", "LogonId: '0x3e7'"), /^sigma rule 8f2b7a61/, /LogonId .*not filled on windows/);
  check(SIGMA.replace('category: process_creation', 'category: registry_set'), /^sigma rule 8f2b7a61-0c5e-4d8e-9d0a-2f3c1e5b7a10$/, /log source "registry_set"/);
  check(SIGMA.replace('and not filter_health', 'and not filter_missing'), /detection\.condition$/);
});

// Shaped like SigmaHQ's renamed-binary and hash rules (written here, not copied): the fields the
// Windows collector fills from the executable's PE file and the process's token.
const PE_RULES = `title: Renamed remote-access tool
id: 7a1e0c55-pe01
logsource: { category: process_creation, product: windows }
detection:
  sel_meta:
    Description: 'Remote Admin Tool'
    Product|contains: 'RAT Suite'
    Company: 'Example Soft'
  sel_level:
    IntegrityLevel:
      - 'High'
      - 'S-1-16-12288'
  filter_path:
    Image|startswith: 'C:\\Program Files\\'
  condition: sel_meta and sel_level and not filter_path
level: high
---
title: Known bad build
id: 7a1e0c55-pe02
logsource: { category: process_creation, product: windows }
detection:
  sel:
    Hashes|contains:
      - 'IMPHASH=0123456789ABCDEF0123456789ABCDEF'
      - 'SHA256=aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999'
      - 'MD5=00112233445566778899aabbccddeeff'
  condition: sel
level: critical
---
title: Started from a user's temp
id: 7a1e0c55-pe03
logsource: { category: process_creation, product: windows }
detection:
  sel: { CurrentDirectory|contains: '\\AppData\\Local\\Temp\\', Image|endswith: '\\rundll32.exe' }
  condition: sel
level: medium
`;

test('Sigma rules on PE version info, hashes, integrity level and working directory load on Windows and match what the collector fills', (t) => {
  const file = files(t, PE_RULES);
  assert.deepEqual(loadRuleFile(file).map((r) => r.meta.id), ['7a1e0c55-pe01', '7a1e0c55-pe02', '7a1e0c55-pe03']);
  const h = new Harness('windows');
  const e = h.engine({ builtin_rules: false, baseline: { enabled: false }, rule_files: [file] });
  const fire = (rec: Partial<ProcessRecord>) => ids(e.evaluate(h.processDoc(h.chain({ name: 'explorer.exe' }, { name: 'x.exe', executable: 'C:\\Users\\a\\x.exe', ...rec }))));
  const pe = { description: 'Remote Admin Tool', product: 'The RAT Suite 4', company: 'Example Soft' };
  assert.deepEqual(fire({ pe, integrityLevel: 'High' }), ['7a1e0c55-pe01']);
  assert.deepEqual(fire({ pe, integrityLevel: 'Medium' }), [], 'the integrity level must match');
  assert.deepEqual(fire({ pe: { ...pe, company: 'Other' }, integrityLevel: 'High' }), [], 'every PE field must match');
  assert.deepEqual(fire({ pe, integrityLevel: 'High', executable: 'C:\\Program Files\\rat\\x.exe' }), [], 'the filter holds');
  assert.deepEqual(fire({ pe: { imphash: '0123456789abcdef0123456789abcdef' } }), ['7a1e0c55-pe02']);
  assert.deepEqual(fire({ md5: '00112233445566778899aabbccddeeff' }), ['7a1e0c55-pe02']);
  assert.deepEqual(fire({ sha256: 'aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999' }), ['7a1e0c55-pe02']);
  assert.deepEqual(fire({ sha1: '00112233445566778899aabbccddeeff00112233', md5: 'ffffffffffffffffffffffffffffffff' }), [], 'other hashes do not match');
  assert.deepEqual(fire({ executable: 'C:\\Windows\\System32\\rundll32.exe', workingDirectory: 'C:\\Users\\a\\AppData\\Local\\Temp\\' }), ['7a1e0c55-pe03']);
  assert.deepEqual(fire({ executable: 'C:\\Windows\\System32\\rundll32.exe', workingDirectory: 'C:\\Windows\\system32\\' }), []);
});
