import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileNode, globSource, RuleSyntaxError } from '../../../../agent/detect/matcher.js';

const doc = {
  process: {
    name: 'cmd.exe',
    executable: 'C:\\Windows\\System32\\cmd.exe',
    args: ['cmd.exe', '/c', 'whoami'],
    user: { name: 'alice' },
    parent: { name: 'W3WP.EXE', user: { name: 'bob' } },
  },
  destination: { port: 5901 },
  portwarden: { lineage: [{ name: 'w3wp.exe' }, { name: 'svchost.exe', executable: 'C:\\Windows\\System32\\svchost.exe' }, { name: 'services.exe' }] },
};

const holds = (node: unknown, ci = false) => compileNode(node, ['when'])(doc, ci) !== undefined;

test('equals is case-sensitive unless the host is Windows (ci), and case_sensitive overrides', () => {
  assert.equal(holds({ 'process.parent.name': 'w3wp.exe' }), false);
  assert.equal(holds({ 'process.parent.name': 'w3wp.exe' }, true), true);
  assert.equal(holds({ 'process.parent.name': { equals: 'w3wp.exe', case_sensitive: true } }, true), false);
});

test('startswith, endswith, contains, regex and glob on strings and on array elements', () => {
  assert.equal(holds({ 'process.executable': { startswith: 'c:\\windows\\' } }, true), true);
  assert.equal(holds({ 'process.executable': { endswith: '\\cmd.exe' } }), true);
  assert.equal(holds({ 'process.args': { contains: 'whoami' } }), true);
  assert.equal(holds({ 'process.args': { contains: ['/c', 'whoami'], all: true } }), false, 'all: every pattern must hold on one value');
  assert.equal(holds({ 'process.executable': { regex: '^C:\\\\Windows\\\\System32\\\\' } }), true);
  assert.equal(holds({ 'process.name': { glob: 'c?d.*' } }), true);
  assert.equal(holds({ 'process.name': { glob: 'c?d' } }), false, 'glob is anchored');
  assert.equal(new RegExp(globSource('tomcat*.exe')).test('tomcat9.exe'), true);
});

test('ancestor.* holds when any ancestor matches; absent fields are false even when negated', () => {
  assert.equal(holds({ 'ancestor.name': 'services.exe' }), true);
  assert.equal(holds({ 'ancestor.name': 'explorer.exe' }), false);
  assert.equal(holds({ 'process.hash.sha256': { not: true, equals: 'x' } }), false);
  assert.equal(holds({ 'process.name': { not: true, equals: ['powershell.exe'] } }), true);
});

test('all / any / not combine, beside field keys; lists mean any', () => {
  assert.equal(holds({ 'process.name': 'cmd.exe', any: [{ 'destination.port': 1 }, { 'destination.port': { range: [5900, 5910] } }] }), true);
  assert.equal(holds({ all: [{ 'process.name': 'cmd.exe' }, { not: { 'process.user.name': 'alice' } }] }), false);
  assert.equal(holds([{ 'process.name': 'x' }, { 'process.name': 'cmd.exe' }]), true);
});

test('differs_from compares two fields of the same document', () => {
  assert.equal(holds({ 'process.user.name': { differs_from: 'process.parent.user.name' } }), true);
  assert.equal(holds({ 'process.user.name': { same_as: 'process.parent.user.name' } }), false);
});

test('syntax errors name the key path inside the rule', () => {
  assert.throws(() => compileNode({ 'process.name': { startz: 'x' } }, ['when']), (e: unknown) => e instanceof RuleSyntaxError && e.path.join('.') === 'when.process.name.startz');
  assert.throws(() => compileNode({ 'process.name': { regex: '(' } }, ['when']), /invalid regex/);
  assert.throws(() => compileNode({ any: 'x' }, ['when']), /list of conditions/);
});
