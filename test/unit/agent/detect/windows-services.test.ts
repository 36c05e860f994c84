// Windows classes of issue 21: script hosts, PowerShell and cmd listening on any port; svchost and
// services.exe children that are shells; Office started through COM (-Embedding) spawning or
// listening; service binaries listening on ports their service does not use. Command lines and
// ports come from the public sources cited beside each case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, firer, ids } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const h = new Harness('windows');
const engine = h.engine({ baseline: { enabled: false } });
const fire = firer(h, engine);
const sys32 = (name: string, extra: Partial<ProcessRecord> = {}): P => ({ name, executable: `C:\\Windows\\System32\\${name}`, ...extra });
const svc = (name: string, account: string, extra: Partial<ProcessRecord> = {}): P => sys32(name, { userName: account, userDomain: 'NT AUTHORITY', ...extra });
const office = (name: string, commandLine: string): P => ({ name, executable: `C:\\Program Files\\Microsoft Office\\root\\Office16\\${name}`, commandLine, userName: 'alice' });
// The DCOM launcher, as Windows 10 runs it.
const dcomLaunch = (): P => svc('svchost.exe', 'SYSTEM', { commandLine: 'C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p' });
const listen = (chain: P[], address: string, port: number): string[] => ids(engine.evaluate(h.listenerDoc(h.chain(...chain), address, port)));

test('script hosts, PowerShell and cmd listening on any port fire pw-listener-shell-owner', () => {
  // powercat README (github.com/besimorhino/powercat): "powercat -l -p 8000 -e cmd" listens in powershell.exe
  assert.ok(listen([{ name: 'explorer.exe' }, sys32('powershell.exe', { commandLine: 'powershell -c "powercat -l -p 8000 -e cmd"' })], '0.0.0.0', 8000).includes('pw-listener-shell-owner'));
  // A port no catalogue lists: the owner alone is the signal.
  assert.ok(listen([{ name: 'explorer.exe' }, sys32('powershell.exe')], '0.0.0.0', 23456).includes('pw-listener-shell-owner'));
  // VBScript with the Winsock control's Listen method (Microsoft VB6 docs, Winsock Control "Listen Method") runs in wscript.exe/cscript.exe
  assert.ok(listen([{ name: 'explorer.exe' }, sys32('wscript.exe', { commandLine: 'wscript.exe C:\\Users\\alice\\listen.vbs' })], '0.0.0.0', 8443).includes('pw-listener-shell-owner'));
  assert.ok(listen([{ name: 'explorer.exe' }, sys32('mshta.exe')], '127.0.0.1', 8080).includes('pw-listener-shell-owner'));
  assert.ok(listen([{ name: 'explorer.exe' }, sys32('cmd.exe')], '0.0.0.0', 9999).includes('pw-listener-shell-owner'));
  // Its benign neighbour: the browser listening for DevTools is no shell.
  assert.ok(!listen([{ name: 'explorer.exe' }, { name: 'msedge.exe' }], '127.0.0.1', 9222).includes('pw-listener-shell-owner'));
});

test('svchost and services.exe children that are shells fire; their usual children do not', () => {
  // Sigma proc_creation_win_svchost_execution_with_no_cli_flags / Elastic "Svchost spawning Cmd": svchost.exe -> cmd.exe
  assert.ok(fire(sys32('services.exe'), svc('svchost.exe', 'SYSTEM', { commandLine: 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p' }), sys32('cmd.exe', { commandLine: '"c:\\windows\\system32\\cmd.exe"' })).includes('pw-win-svchost-shell'));
  // Metasploit psexec (Splunk "Services Escalate Exe"): services.exe -> cmd.exe /c echo ... | powershell
  assert.ok(fire(sys32('wininit.exe'), sys32('services.exe'), sys32('cmd.exe', { commandLine: '%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -noni -c "..."' })).includes('pw-win-services-shell'));
  assert.ok(!fire(sys32('services.exe'), svc('svchost.exe', 'SYSTEM'), sys32('taskhostw.exe')).includes('pw-win-svchost-shell'));
  assert.ok(!fire(sys32('wininit.exe'), sys32('services.exe'), sys32('svchost.exe', { commandLine: 'svchost.exe -k LocalService' })).includes('pw-win-services-shell'));
});

test('a service binary listening on a fixed port it does not use fires; real network services do not', () => {
  // Faxhell (github.com/ionescu007/faxhell): a DLL loaded by the Fax service (FXSSVC.exe, NETWORK SERVICE) binds a shell to port 9299
  assert.deepEqual(listen([sys32('services.exe'), svc('FXSSVC.exe', 'NETWORK SERVICE')], '127.0.0.1', 9299).filter((r) => r.startsWith('pw-win-')), ['pw-win-service-binary-fixed-port']);
  assert.ok(listen([sys32('services.exe'), svc('FXSSVC.exe', 'NETWORK SERVICE')], '0.0.0.0', 9299).includes('pw-win-service-binary-fixed-port'));
  // The same binary on a dynamic RPC port, the DNS server on 53, lsass on LDAP: what Windows does
  assert.ok(!listen([sys32('services.exe'), svc('FXSSVC.exe', 'NETWORK SERVICE')], '0.0.0.0', 49700).includes('pw-win-service-binary-fixed-port'));
  assert.deepEqual(listen([sys32('services.exe'), svc('dns.exe', 'SYSTEM')], '0.0.0.0', 53).filter((r) => r.startsWith('pw-win-')), []);
  assert.deepEqual(listen([sys32('wininit.exe'), svc('lsass.exe', 'SYSTEM')], '0.0.0.0', 389).filter((r) => r.startsWith('pw-win-')), []);
  // A user's own program from System32 (not a service account) is left to other rules.
  assert.ok(!listen([{ name: 'explorer.exe' }, sys32('FXSSVC.exe', { userName: 'alice' })], '0.0.0.0', 9299).includes('pw-win-service-binary-fixed-port'));
});

test('lsass, DNS, SCM, wininit and the spooler listening outside their documented ports fire', () => {
  assert.ok(listen([sys32('wininit.exe'), svc('lsass.exe', 'SYSTEM')], '0.0.0.0', 4444).includes('pw-win-core-service-odd-port'));
  assert.ok(listen([sys32('services.exe'), svc('spoolsv.exe', 'SYSTEM')], '0.0.0.0', 8080).includes('pw-win-core-service-odd-port'));
  assert.ok(listen([sys32('services.exe'), svc('dns.exe', 'SYSTEM')], '0.0.0.0', 5353).includes('pw-win-core-service-odd-port'));
  for (const [name, port] of [['lsass.exe', 88], ['lsass.exe', 3268], ['lsass.exe', 49668], ['spoolsv.exe', 49669], ['services.exe', 49670], ['dns.exe', 53]] as const) {
    assert.ok(!listen([sys32('wininit.exe'), svc(name, 'SYSTEM')], '0.0.0.0', port).includes('pw-win-core-service-odd-port'), `${name} on ${port}`);
  }
});

test('Office started through COM: low alone, high when it spawns a program or listens', () => {
  // enigma0x3, "Lateral Movement using Excel.Application and DCOM" (2017) and OTRF SDWIN-200917174542: DcomLaunch starts EXCEL.EXE /automation -Embedding
  const excelCom = office('EXCEL.EXE', '"C:\\Program Files\\Microsoft Office\\Root\\Office16\\EXCEL.EXE" /automation -Embedding');
  assert.ok(fire(sys32('services.exe'), dcomLaunch(), excelCom).includes('pw-win-office-com-automation'));
  // enigma0x3, "Lateral Movement using Outlook's CreateObject Method and DotNetToJScript" (2017): OUTLOOK.EXE -Embedding spawns the payload
  const outlookCom = office('OUTLOOK.EXE', '"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE" -Embedding');
  assert.ok(fire(sys32('services.exe'), dcomLaunch(), outlookCom, { name: 'payload.exe', executable: 'C:\\Users\\Public\\payload.exe' }).includes('pw-win-office-com-child'));
  assert.ok(fire(sys32('services.exe'), dcomLaunch(), excelCom, sys32('cmd.exe', { commandLine: 'cmd.exe /c calc' })).includes('pw-win-office-com-child'));
  // Its own helpers (App-V surrogate, the 64-bit print proxy) are not.
  assert.ok(!fire(sys32('services.exe'), dcomLaunch(), excelCom, { name: 'AppVDllSurrogate64.exe', commandLine: 'AppVDllSurrogate64.exe {0358B920-0AC7-461F-98F4-58E32CD89148} -Embedding' }).includes('pw-win-office-com-child'));
  assert.ok(!fire(sys32('services.exe'), dcomLaunch(), excelCom, sys32('splwow64.exe')).includes('pw-win-office-com-child'));
  // Excel opened by a user is not COM automation, and its children are left to pw-win-office-child.
  const excelUser = office('EXCEL.EXE', '"C:\\Program Files\\Microsoft Office\\Root\\Office16\\EXCEL.EXE" "C:\\Users\\alice\\q3.xlsx"');
  assert.ok(!fire({ name: 'explorer.exe' }, excelUser).includes('pw-win-office-com-automation'));
  assert.ok(!fire({ name: 'explorer.exe' }, excelUser, sys32('splwow64.exe')).includes('pw-win-office-com-child'));
  // Listening: DCOM-activated Excel opens a dynamic RPC port (OTRF: Excel listens on 49603)
  const l = listen([sys32('services.exe'), dcomLaunch(), excelCom], '0.0.0.0', 49603);
  assert.ok(l.includes('pw-win-office-com-listener') && l.includes('pw-listener-document-app'), l.join(','));
  assert.ok(!listen([{ name: 'explorer.exe' }, excelUser], '0.0.0.0', 49603).includes('pw-win-office-com-listener'));
});

test('a service inside svchost listening on a port its service does not use fires (the owning service Windows records per socket)', () => {
  const host = h.chain(sys32('services.exe'), svc('svchost.exe', 'SYSTEM', { commandLine: 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p' }));
  const as = (service: string, port: number, address = '127.0.0.1'): string[] => ids(engine.evaluate(h.builder.listener(
    { netns: 'host', transport: 'tcp', family: 'ipv4', address, port, inode: 0, owners: [host.record.pid], serviceName: service },
    host, h.table.ancestors(host), { action: 'listening_started' })));
  // itm4n's UsoDllLoader: a DLL loaded by the Update Session Orchestrator (UsoSvc) binds a shell to 127.0.0.1:1337
  assert.ok(as('UsoSvc', 1337).includes('pw-win-svchost-service-odd-port'));
  assert.ok(as('TermService', 4444, '0.0.0.0').includes('pw-win-svchost-service-odd-port'));
  // What these services do: RDP on 3389, the endpoint mapper on 135, LLMNR on 5355, dynamic RPC for anyone.
  for (const [service, port] of [['TermService', 3389], ['RpcSs', 135], ['Dnscache', 5355], ['UsoSvc', 49712], ['SomeVendorSvc', 8080]] as const) {
    assert.ok(!as(service, port, '0.0.0.0').includes('pw-win-svchost-service-odd-port'), `${service} on ${String(port)}`);
  }
});
