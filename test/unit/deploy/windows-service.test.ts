import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../agent/app/config.js';
import { repoRoot } from '../../../testkit/paths.js';
import { all, child, parseXml } from '../../helpers/mini-xml.js';

const dir = join(repoRoot, 'deploy', 'windows');
const xml = parseXml(readFileSync(join(dir, 'portwarden-service.xml'), 'utf8'));
const text = (name: string) => child(xml, name)?.text.trim();

test('WinSW definition: LocalSystem, automatic start, node running the agent with the ProgramData config', () => {
  assert.equal(xml.name, 'service');
  assert.equal(text('id'), 'portwarden');
  assert.equal(child(child(xml, 'serviceaccount')!, 'username')?.text.trim(), 'LocalSystem');
  assert.equal(text('startmode'), 'Automatic');
  assert.equal(text('executable'), '%BASE%\\node.exe');
  assert.deepEqual(all(xml, 'argument').map((a) => a.text.trim()),
    ['%BASE%\\app\\dist\\agent\\cli\\bin.js', 'run', '--config', '%ProgramData%\\portwarden\\portwarden.yml']);
  assert.equal(child(xml, 'arguments'), undefined, 'one form of arguments only');
});

test('WinSW definition: restart-on-failure recovery, failure count reset, bounded stop, logs under ProgramData', () => {
  const failures = all(xml, 'onfailure');
  assert.ok(failures.length >= 1);
  assert.ok(failures.every((f) => f.attrs.action === 'restart'), 'every failure restarts (the last action repeats)');
  assert.deepEqual(failures.map((f) => f.attrs.delay), ['5 sec', '5 sec', '60 sec']);
  assert.equal(text('resetfailure'), '1 day');
  assert.equal(text('stoptimeout'), '30 sec');
  assert.equal(text('logpath'), '%ProgramData%\\portwarden\\logs');
  assert.equal(child(xml, 'log')?.attrs.mode, 'roll-by-size');
});

test('the Windows default config is valid and keeps state and logs under ProgramData', () => {
  const loaded = loadConfig(join(dir, 'portwarden.yml'), {});
  const cfg = loaded.config as { state_dir?: string; log: { file?: string; format: string }; outputs: { type: string; path?: string }[] };
  assert.equal(cfg.state_dir, 'C:\\ProgramData\\portwarden\\state');
  assert.equal(cfg.log.file, 'C:\\ProgramData\\portwarden\\logs\\portwarden.log');
  assert.equal(cfg.log.format, 'ecs');
  assert.ok(cfg.outputs.every((o) => o.path === undefined || o.path.startsWith('C:\\ProgramData\\portwarden\\')));
});

test('install/uninstall scripts: elevated only, config never overwritten, recovery set, nothing evaluated from strings', () => {
  const install = readFileSync(join(dir, 'install.ps1'), 'utf8');
  const uninstall = readFileSync(join(dir, 'uninstall.ps1'), 'utf8');
  for (const s of [install, uninstall]) {
    assert.match(s, /IsInRole\(\[Security\.Principal\.WindowsBuiltInRole\]::Administrator\)/);
    assert.match(s, /\$ErrorActionPreference = 'Stop'/);
    assert.doesNotMatch(s, /Invoke-Expression|\biex\b|cmd(\.exe)? \/c/i);
  }
  assert.match(install, /if \(-not \(Test-Path -LiteralPath \$config\)\)/, 'an existing portwarden.yml is kept');
  assert.match(install, /'reset=' '86400' 'actions=' 'restart\/5000\/restart\/5000\/restart\/60000'/);
  assert.match(install, /icacls\.exe \$data '\/inheritance:r'/, 'state and logs readable by SYSTEM and Administrators only');
  assert.match(install, /'check-config' '--config' \$config/);
  assert.match(install, /portwarden-service\.xml/);
  assert.match(uninstall, /\[switch\]\$RemoveData/, 'data kept unless asked');
});
