import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuleFile } from '../../../../agent/detect/load.js';
import { fixture } from '../../../../testkit/paths.js';
import { Harness, ids } from './harness.js';

// SigmaHQ rules outside ../shared/sigma that did not load (test/fixtures/sigma-extra/README.md: paths,
// authors, DRL 1.1). Each now loads and fires on what it describes, and not on near misses.
const file = (name: string) => fixture('sigma-extra', 'rules', name);
const NOTPETYA = '79aeeb41-8156-4fac-a0cd-076495ab82a1'; // rules-emerging-threats/2017/Malware/NotPetya/proc_creation_win_malware_notpetya.yml
const PIKABOT = '698d4431-514f-4c82-af4d-cf573872a9f5'; // rules-emerging-threats/2023/Malware/Pikabot/proc_creation_win_malware_pikabot_discovery.yml
const OBFUSCATION_VAR = '27aec9c9-dbb0-4939-8422-1742242471d0'; // rules/windows/process_creation/proc_creation_win_hktl_invoke_obfuscation_var.yml

function engine(name: string) {
  const h = new Harness('windows');
  return { h, e: h.engine({ builtin_rules: false, baseline: { enabled: false }, rule_files: [file(name)] }) };
}

test('keyword selection (NotPetya \\perfc.dat): the word anywhere in the process fields fires, as Sigma searches the whole event', () => {
  const [rule] = loadRuleFile(file('proc_creation_win_malware_notpetya.yml'));
  assert.equal(rule?.meta.id, NOTPETYA);
  const { h, e } = engine('proc_creation_win_malware_notpetya.yml');
  const fire = (exe: string, cmd: string, parentCmd = 'explorer.exe') => ids(e.evaluate(h.processDoc(h.chain(
    { name: 'explorer.exe', executable: 'C:\\Windows\\explorer.exe', commandLine: parentCmd },
    { name: exe.split('\\').pop() ?? exe, executable: exe, commandLine: cmd },
  ))));
  assert.deepEqual(fire('C:\\Windows\\System32\\rundll32.exe', 'rundll32.exe C:\\Windows\\PERFC.DAT,#2'), [NOTPETYA], 'keyword in the command line, any case');
  assert.deepEqual(fire('C:\\Windows\\System32\\cmd.exe', 'cmd /c x', 'C:\\Windows\\perfc.dat run'), [NOTPETYA], 'keyword in the parent command line');
  assert.deepEqual(fire('C:\\Windows\\System32\\rundll32.exe', 'rundll32.exe C:\\Windows\\perf.dat,#2'), []);
  assert.deepEqual(fire('C:\\Windows\\System32\\rundll32.exe', 'rundll32.exe C:\\x\\a.dat,#1'), [NOTPETYA], 'the field selections still work beside the keyword');
});

test('GrandParentImage: the parent\'s parent from the lineage (Pikabot discovery under rundll32)', () => {
  const { h, e } = engine('proc_creation_win_malware_pikabot_discovery.yml');
  const fire = (grand: string, parent: string) => ids(e.evaluate(h.processDoc(h.chain(
    { name: grand.split('\\').pop() ?? grand, executable: grand },
    { name: parent.split('\\').pop() ?? parent, executable: parent },
    { name: 'whoami.exe', executable: 'C:\\Windows\\System32\\whoami.exe', commandLine: 'whoami.exe /all' },
  ))));
  assert.deepEqual(fire('C:\\Windows\\System32\\rundll32.exe', 'C:\\Windows\\System32\\cmd.exe'), [PIKABOT]);
  assert.deepEqual(fire('C:\\Windows\\explorer.exe', 'C:\\Windows\\System32\\cmd.exe'), []);
  assert.deepEqual(fire('C:\\Windows\\explorer.exe', 'C:\\Windows\\System32\\rundll32.exe'), [], 'rundll32 as the parent is not the grandparent');
});

test('re with an escaped quote before a lazy \\s+? is not a possessive quantifier: Invoke-Obfuscation VAR+ loads and matches its own example', () => {
  const { h, e } = engine('proc_creation_win_hktl_invoke_obfuscation_var.yml');
  const fire = (cmd: string) => ids(e.evaluate(h.processDoc(h.chain({ name: 'explorer.exe' }, { name: 'cmd.exe', executable: 'C:\\Windows\\System32\\cmd.exe', commandLine: cmd }))));
  // The shape of the rule's examples (its re is case-sensitive, as Sigma's re is: lower-case cmd, /c, set).
  assert.deepEqual(fire('cmd.exe /c "set abcd=Invoke-Expression && powershell (\\"{1}{0}\\" -f \'ion\',\'Express\') "'), [OBFUSCATION_VAR]);
  assert.deepEqual(fire('cmd.exe /c "set PATH=C:\\tools && build.cmd"'), []);
});
