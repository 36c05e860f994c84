import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluateFirewall, matchPorts, normaliseProgram, type FirewallTarget } from '../../../../../agent/sources/windows/firewall-eval.js';
import { parseFirewallCmdletJson, profileMask } from '../../../../../agent/sources/windows/firewall-cmdlets.js';
import { parseFirewallJson, type FirewallRule, type FirewallState } from '../../../../../agent/sources/windows/firewall-state.js';
import { fixture } from '../../../../../testkit/paths.js';

const at = new Date('2026-11-20T09:00:00Z');
const recorded = parseFirewallJson(readFileSync(fixture('windows', 'ps-firewall.json'), 'utf8'), at);
const svchost = 'C:\\Windows\\System32\\svchost.exe';
const rdp: FirewallTarget = { transport: 'tcp', address: '0.0.0.0', port: 3389, executable: svchost, serviceName: 'TermService' };

function state(rules: Partial<FirewallRule>[], over: Partial<FirewallState> = {}): FirewallState {
  return {
    currentProfiles: 4,
    profiles: [{ type: 4, enabled: true, defaultInboundAction: 0 }],
    rules: rules.map((r) => ({ name: 'r', action: 'allow', profiles: 0x7fffffff, protocol: 256, localPorts: '*', localAddresses: '*', remoteAddresses: '*', ...r })),
    readAt: at,
    ...over,
  };
}

test('recorded FwPolicy2 JSON: profiles, enabled inbound rules only, program and service filters', () => {
  const { state: s, warnings } = recorded;
  assert.deepEqual(warnings, []);
  assert.equal(s.currentProfiles, 4);
  assert.equal(s.profiles.length, 3);
  assert.equal(s.rules.length, 5, 'the disabled rule is dropped');
  const r = s.rules[0]!;
  assert.deepEqual([r.action, r.protocol, r.localPorts, r.applicationName, r.serviceName],
    ['allow', 6, '3389', '%SystemRoot%\\system32\\svchost.exe', 'termservice']);
  assert.equal(s.rules[1]!.action, 'block');
  assert.equal(s.rules[1]!.applicationName, undefined);
});

test('RDP on 0.0.0.0 with an allow rule is allowed; blocked when the block rule or default covers it', () => {
  const s = recorded.state;
  assert.equal(evaluateFirewall(rdp, s), 'allowed');
  assert.equal(evaluateFirewall({ transport: 'tcp', address: '0.0.0.0', port: 445, processName: 'System' }, s), 'blocked', 'block rule');
  assert.equal(evaluateFirewall({ ...rdp, port: 8080, executable: 'C:\\Program Files\\nodejs\\node.exe', serviceName: undefined }, s),
    'blocked', 'the node rule is Private-only and the host is on Public');
  assert.equal(evaluateFirewall({ ...rdp, transport: 'udp', port: 5353, serviceName: 'Dnscache' }, s), 'allowed');
  assert.equal(evaluateFirewall({ ...rdp, transport: 'udp', port: 3389 }, s), 'blocked', 'the RDP rule is TCP only');
  assert.equal(evaluateFirewall({ ...rdp, address: '127.0.0.1' }, s), undefined, 'loopback is not a firewall question');
  assert.equal(evaluateFirewall({ ...rdp, address: '::1' }, s), undefined);
});

test('block wins over allow; firewall off or default-allow exposes; no state is unknown', () => {
  const both = state([{ action: 'allow', localPorts: '3389' }, { action: 'block', localPorts: '3000-4000', protocol: 6 }]);
  assert.equal(evaluateFirewall(rdp, both), 'blocked');
  assert.equal(evaluateFirewall(rdp, state([], { profiles: [{ type: 4, enabled: false, defaultInboundAction: 0 }] })), 'allowed');
  assert.equal(evaluateFirewall(rdp, state([], { profiles: [{ type: 4, enabled: true, defaultInboundAction: 1 }] })), 'allowed');
  assert.equal(evaluateFirewall(rdp, state([])), 'blocked');
  assert.equal(evaluateFirewall(rdp, undefined), 'unknown');
});

test('a rule for another program does not expose; an unknown executable makes a program rule undecidable', () => {
  const s = state([{ applicationName: 'C:\\Tools\\other.exe' }]);
  assert.equal(evaluateFirewall(rdp, s), 'blocked');
  assert.equal(evaluateFirewall({ ...rdp, executable: undefined }, s), 'unknown', 'not elevated: path unknown');
  assert.equal(evaluateFirewall({ ...rdp, executable: 'c:\\tools\\OTHER.exe' }, s), 'allowed', 'paths compare case-insensitively');
});

test('any active profile that allows exposes the listener (domain + public adapters)', () => {
  const s = state([{ profiles: 1, localPorts: '3389' }], {
    currentProfiles: 5,
    profiles: [{ type: 1, enabled: true, defaultInboundAction: 0 }, { type: 4, enabled: true, defaultInboundAction: 0 }],
  });
  assert.equal(evaluateFirewall(rdp, s), 'allowed');
});

test('local address filters: specific binds, subnets, ranges; keywords are undecidable', () => {
  const bound = { ...rdp, address: '10.1.2.3' };
  assert.equal(evaluateFirewall(bound, state([{ localAddresses: '10.1.0.0/255.255.0.0' }])), 'allowed');
  assert.equal(evaluateFirewall(bound, state([{ localAddresses: '10.1.2.0/24' }])), 'allowed');
  assert.equal(evaluateFirewall(bound, state([{ localAddresses: '10.1.2.1-10.1.2.9' }])), 'allowed');
  assert.equal(evaluateFirewall(bound, state([{ localAddresses: '192.168.0.0/16' }])), 'blocked');
  assert.equal(evaluateFirewall(bound, state([{ localAddresses: 'LocalSubnet' }])), 'unknown');
  assert.equal(evaluateFirewall(rdp, state([{ localAddresses: '10.1.2.3/255.255.255.255' }])), 'allowed', 'any-address bind is exposed on that address');
  assert.equal(evaluateFirewall(rdp, state([{ localPorts: '3389' }, { action: 'block', localAddresses: '10.1.2.3' }])), 'unknown',
    'a block on one address does not cover an any-address bind');
});

test('port specs and program normalisation', () => {
  assert.equal(matchPorts('80,5000-5010', 5005), 'yes');
  assert.equal(matchPorts('80,5000-5010', 5011), 'no');
  assert.equal(matchPorts('RPC-EPMap', 135), 'yes');
  assert.equal(matchPorts('RPC', 49665), 'maybe');
  assert.equal(matchPorts('*', 1), 'yes');
  assert.equal(normaliseProgram('%SystemRoot%\\System32\\svchost.exe'), 'c:\\windows\\system32\\svchost.exe');
  assert.equal(normaliseProgram('%ProgramFiles%\\x.exe', { programfiles: 'D:\\Apps' }), 'd:\\apps\\x.exe');
});

test('malformed firewall output is an error; odd rule actions become warnings', () => {
  assert.throws(() => parseFirewallJson('[]', at), /expected a JSON object/);
  const { state: s, warnings } = parseFirewallJson('{"CurrentProfileTypes":2,"Profiles":{"Type":2,"Enabled":true,"DefaultInboundAction":0},"Rules":{"Name":"x","Action":7}}', at);
  assert.equal(s.profiles.length, 1, 'a single profile object is accepted');
  assert.equal(s.rules.length, 0);
  assert.match(warnings[0] ?? '', /unknown action/);
});

test('NetSecurity cmdlet form: rules joined with their filters on InstanceID; enum names and numbers', () => {
  const { state: s, warnings } = parseFirewallCmdletJson(readFileSync(fixture('windows', 'ps-firewall-cmdlets.json'), 'utf8'), at);
  assert.deepEqual(warnings, []);
  assert.equal(s.currentProfiles, 4, 'a single active connection profile (not an array)');
  assert.deepEqual(s.profiles.map((p) => [p.type, p.enabled, p.defaultInboundAction]), [[1, true, 0], [2, true, 0], [4, true, 0]]);
  const smb = s.rules.find((r) => r.name === 'Block inbound SMB')!;
  assert.deepEqual([smb.action, smb.profiles, smb.protocol, smb.localPorts, smb.applicationName], ['block', 7, 6, '139,445', undefined]);
  const rdpRule = s.rules.find((r) => r.name.startsWith('Remote Desktop'))!;
  assert.deepEqual([rdpRule.profiles, rdpRule.applicationName, rdpRule.serviceName], [7, '%SystemRoot%\\system32\\svchost.exe', 'termservice']);
  assert.equal(evaluateFirewall(rdp, s), evaluateFirewall(rdp, recorded.state), 'same verdict as the FwPolicy2 reading');
  assert.equal(profileMask('Domain, Public'), 5);
  assert.equal(profileMask(0), 7);
  const numeric = parseFirewallCmdletJson(JSON.stringify({ Active: [1, 2], Profiles: [{ Name: 'Private', Enabled: 2, DefaultInboundAction: 2 }],
    Rules: [{ InstanceID: 'x', Action: 4, Profile: 2 }, { InstanceID: 'y', Action: 0, Profile: 0 }], Ports: { InstanceID: 'x', Protocol: 'ICMPv4', LocalPort: 'RPC' } }), at);
  assert.equal(numeric.state.currentProfiles, 3);
  assert.deepEqual(numeric.state.profiles, [{ type: 2, enabled: false, defaultInboundAction: 1 }]);
  assert.equal(numeric.state.rules[0]!.protocol, -1, 'ICMP never matches a TCP/UDP listener');
  assert.match(numeric.warnings[0] ?? '', /action 0 ignored/);
});
