import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/paths.js';
import { waitFor } from '../../testkit/wait.js';
import { spawnNodeExe } from '../../testkit/wine.js';
import { all, child, parseXml } from '../helpers/mini-xml.js';
import { dir, docs, skip, useWine, w } from './wine-env.js';

/** deploy/windows under wine: what can run without PowerShell, WinSW and the service control manager. */
useWine();

test('the WinSW service\'s command line under wine: install.ps1\'s check-config passes and the agent ships to %ProgramData%', { skip, timeout: 600_000 }, async (t) => {
  // install.ps1's layout in the prefix (links instead of copies); WinSW itself and the service
  // control manager cannot run here, so the command line is taken from the XML and started as is.
  const driveC = join(w.prefix, 'drive_c');
  const base = join(driveC, 'Program Files', 'portwarden');
  mkdirSync(join(base, 'app'), { recursive: true });
  // What install.ps1 copies into app\ (read from the script, so a missing entry shows here).
  const install = readFileSync(join(repoRoot, 'deploy', 'windows', 'install.ps1'), 'utf8');
  const copied = /Copying portwarden into \$InstallDir"\n(?:#.*\n)*foreach \(\$p in @\(([^)]*)\)\)/.exec(install)?.[1];
  assert.ok(copied !== undefined, 'install.ps1\'s copy list');
  for (const p of [...copied.matchAll(/'([^']+)'/g)].map((m) => m[1]!)) symlinkSync(join(repoRoot, p), join(base, 'app', p));
  symlinkSync(w.nodeExe, join(base, 'node.exe'));
  const data = join(driveC, 'ProgramData', 'portwarden');
  mkdirSync(join(data, 'logs'), { recursive: true });
  copyFileSync(join(repoRoot, 'deploy', 'windows', 'portwarden.yml'), join(data, 'portwarden.yml'));

  const xml = parseXml(readFileSync(join(repoRoot, 'deploy', 'windows', 'portwarden-service.xml'), 'utf8'));
  const expand = (v: string) => v.replace(/%BASE%/g, 'C:\\Program Files\\portwarden').replace(/%ProgramData%/g, 'C:\\ProgramData');
  const exe = expand(child(xml, 'executable')!.text.trim());
  const args = all(xml, 'argument').map((a) => expand(a.text.trim()));
  const configArg = args[args.indexOf('--config') + 1]!;
  const start = (name: string, argv: string[]) => {
    const files = { stdout: join(dir, `${name}.out`), stderr: join(dir, `${name}.err`) };
    const c = spawnNodeExe({ ...w, nodeExe: exe }, argv, files);
    return { c, files };
  };
  const check = start('svc-check', [args[0]!, 'check-config', '--config', configArg]);
  const code = await new Promise<number | null>((res) => check.c.on('exit', res));
  assert.equal(code, 0, `check-config on the shipped portwarden.yml: ${readFileSync(check.files.stderr, 'utf8')}${readFileSync(check.files.stdout, 'utf8')}`);

  const svc = start('svc-run', args);
  t.after(() => svc.c.kill('SIGKILL'));
  const events = join(data, 'logs', 'events.ndjson');
  const first = await waitFor('an event in %ProgramData%\\portwarden\\logs\\events.ndjson', () => existsSync(events) && docs(readFileSync(events, 'utf8')).find((d) => d.event.action === 'listening_existing'), 300_000, 500);
  assert.equal((first.host as { os?: { type?: string } }).os?.type, 'windows');
  assert.ok(existsSync(join(data, 'state')), 'state_dir created under ProgramData');
});
