import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../testkit/paths.js';
import { checkPs1 } from '../../helpers/ps1-structure.js';

const script = (name: string) => readFileSync(join(repoRoot, 'deploy', 'windows', name), 'utf8');

test('install.ps1 and uninstall.ps1 parse: strings, comments, brackets close; param() first; no variable read before assignment', () => {
  const install = checkPs1(script('install.ps1'));
  assert.deepEqual(install.problems, []);
  assert.deepEqual(install.params, ['Source', 'NodePath', 'WinSW', 'InstallDir', 'NoStart']);
  assert.deepEqual(checkPs1(script('uninstall.ps1')).problems, []);
});

test('the structure check catches what PowerShell would reject', () => {
  const ok = script('install.ps1');
  assert.match(checkPs1(ok.replace("if ($NodePath -eq '') {", "if ($NodePath -eq '') ")).problems.join('\n'), /closes \( of line|never closed|closes/);
  assert.match(checkPs1(ok.replace("throw 'install.ps1 must run elevated (Run as administrator).'", "throw 'install.ps1 must run elevated")).problems.join('\n'), /string ' never closed/);
  assert.match(checkPs1(ok.replace('$config = Join-Path $data', '$confg = Join-Path $data')).problems.join('\n'), /\$config is read before it is assigned/);
  assert.match(checkPs1(`$x = 1\n${ok}`).problems.join('\n'), /not param\(/);
  assert.match(checkPs1(ok.replace('if (-not $NoStart) {', 'if ($true) {')).problems.join('\n'), /parameter \$NoStart is never used/);
});
