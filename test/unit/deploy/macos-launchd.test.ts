import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../agent/app/config.js';
import { repoRoot } from '../../../testkit/paths.js';
import { parseXml, plistValue } from '../../helpers/mini-xml.js';

const dir = join(repoRoot, 'deploy', 'macos');

test('launchd plist: root daemon running the agent, restarted after failures, PATH with lsof and ps', () => {
  const doc = parseXml(readFileSync(join(dir, 'dev.portwarden.agent.plist'), 'utf8'));
  assert.equal(doc.name, 'plist');
  const p = plistValue(doc.children[0]!) as Record<string, unknown>;
  assert.equal(p.Label, 'dev.portwarden.agent');
  assert.equal(p.UserName, 'root', 'lsof sees every listener only as root');
  assert.equal(p.RunAtLoad, true);
  assert.deepEqual(p.KeepAlive, { SuccessfulExit: false }, 'restart on crash or non-zero exit');
  assert.equal(p.ThrottleInterval, 10);
  const args = p.ProgramArguments as string[];
  assert.deepEqual(args.slice(1), ['/usr/local/portwarden/app/dist/agent/cli/bin.js', 'run', '--config', '/Library/Application Support/portwarden/portwarden.yml']);
  const path = ((p.EnvironmentVariables as Record<string, string | undefined>).PATH ?? '').split(':');
  assert.ok(path.includes('/usr/sbin') && path.includes('/bin'), 'lsof and ps are found');
  assert.match(String(p.StandardErrorPath), /^\/Library\/Logs\/portwarden\//);
});

test('the macOS default config is valid; state and logs live where the notes create them', () => {
  const cfg = loadConfig(join(dir, 'portwarden.yml'), {}).config as { state_dir?: string; log: { file?: string } };
  assert.equal(cfg.state_dir, '/Library/Application Support/portwarden/state');
  assert.equal(cfg.log.file, '/Library/Logs/portwarden/portwarden.log');
  const notes = readFileSync(join(dir, 'README.md'), 'utf8');
  assert.ok(notes.includes('"/Library/Application Support/portwarden/state"'));
  assert.ok(notes.includes('launchctl bootstrap system /Library/LaunchDaemons/dev.portwarden.agent.plist'));
});

test('mini XML reader rejects malformed documents (so the checks above can fail)', () => {
  assert.throws(() => parseXml('<a><b></a>'), /mismatched/);
  assert.throws(() => parseXml('<a>'), /unclosed/);
  assert.throws(() => plistValue(parseXml('<dict><string>x</string></dict>')), /expected <key>/);
});
