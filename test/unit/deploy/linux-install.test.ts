import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../../agent/app/config.js';
import { repoRoot } from '../../../testkit/paths.js';
import { deployDir, readDeploy } from './content.js';

const SCRIPT = join(deployDir, 'linux', 'install.sh');

/** A minimal built tree: what install.sh copies (a full node_modules would cost seconds). */
function fakeSource(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'dist', 'agent', 'cli'), { recursive: true });
  mkdirSync(join(src, 'node_modules', 'zod'), { recursive: true });
  writeFileSync(join(src, 'package.json'), '{"name":"portwarden","version":"0.1.0"}\n');
  writeFileSync(join(src, 'dist', 'agent', 'cli', 'bin.js'), '// stub\n');
  writeFileSync(join(src, 'node_modules', 'zod', 'index.js'), '// stub\n');
  return src;
}

function install(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('sh', [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test('install.sh stages code, config, state and log dirs with safe permissions', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-install-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const root = join(dir, 'root');
  // node somewhere other than /usr/bin/node, as with nvm or a tarball install.
  const node = join(dir, 'node-v20', 'bin', 'node');
  mkdirSync(dirname(node), { recursive: true });
  symlinkSync(process.execPath, node);
  const r = install(['--root', root, '--source', fakeSource(dir), '--node', node, '--enable-netns']);
  assert.equal(r.status, 0, r.out);
  assert.ok(existsSync(join(root, 'opt/portwarden/dist/agent/cli/bin.js')));
  assert.equal(mode(join(root, 'etc/portwarden')), '750');
  assert.equal(mode(join(root, 'etc/portwarden/portwarden.yml')), '640');
  assert.equal(mode(join(root, 'var/lib/portwarden')), '750');
  assert.equal(mode(join(root, 'var/log/portwarden')), '750');
  assert.equal(mode(join(root, 'opt/portwarden/dist/agent/cli/bin.js')), '644');
  assert.equal(readFileSync(join(root, 'etc/systemd/system/portwarden.service'), 'utf8'), readDeploy('linux', 'portwarden.service'));
  assert.ok(existsSync(join(root, 'etc/systemd/system/portwarden.service.d/network-namespaces.conf')));
  loadConfig(join(root, 'etc/portwarden/portwarden.yml'), {});
  const dropIn = readFileSync(join(root, 'etc/systemd/system/portwarden.service.d/node-path.conf'), 'utf8');
  assert.match(dropIn, new RegExp(`^ExecStart=\\n^ExecStart=${node.replace(/[.+]/g, '\\$&')} /opt/portwarden/dist/agent/cli/bin.js run`, 'm'));
  // The drop-in is what makes the unit valid on such a host: verify the staged pair.
  const v = spawnSync('systemd-analyze', ['verify', 'portwarden.service'], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${join(root, 'etc/systemd/system')}:` } });
  assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
  assert.equal(`${v.stdout}${v.stderr}`.trim(), '');
  // A second run keeps the admin's config.
  writeFileSync(join(root, 'etc/portwarden/portwarden.yml'), 'interval: 5s\n');
  assert.equal(install(['--root', root, '--source', join(dir, 'src'), '--node', process.execPath]).status, 0);
  assert.equal(readFileSync(join(root, 'etc/portwarden/portwarden.yml'), 'utf8'), 'interval: 5s\n');
  // ... and drops the node-path override once node is where the unit expects it.
  assert.equal(existsSync(join(root, 'etc/systemd/system/portwarden.service.d/node-path.conf')), process.execPath !== '/usr/bin/node');
});

test('install.sh refuses unsafe input before writing anything', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-install-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const root = join(dir, 'root');
  const src = fakeSource(dir);
  for (const [args, message] of [
    [['--node', 'node'], /absolute path/],
    [['--node', '/tmp/x y/node'], /unsupported characters/],
    [['--node', '/usr/bin/node;touch /tmp/pwned'], /unsupported characters/],
    [['--bogus'], /unknown option/],
  ] as const) {
    const r = install(['--root', root, '--source', src, ...args]);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, message);
  }
  assert.equal(existsSync(root), false, 'nothing may be written on refusal');
  const r = install(['--root', root, '--source', join(dir, 'missing'), '--node', process.execPath]);
  assert.match(r.out, /no package\.json/);
  const text = readFileSync(SCRIPT, 'utf8').split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  assert.doesNotMatch(text, /\beval\b|\bsh -c\b|`/, 'install.sh must not build commands from data');
  assert.equal(spawnSync('sh', ['-n', SCRIPT]).status, 0);
});

/**
 * Runs the real Linux source with only the given capabilities (a bounding set of just those; the
 * same kernel checks apply as for the service's dedicated user) and returns the owners of `port`.
 * It stays uid 0 so it can read this checkout wherever CI clones it; the listener belongs to
 * another user (uid 65534), so attributing it needs the capabilities under test.
 */
function ownersWith(caps: string[], port: number): { privileged: boolean; owners: number[] } {
  const dist = join(repoRoot, 'dist');
  const probe = `const { createLinuxSource } = await import(${JSON.stringify(join(dist, 'agent/sources/linux/index.js'))});
const { silentLogger } = await import(${JSON.stringify(join(dist, 'agent/log/logger.js'))});
const src = createLinuxSource({ logger: silentLogger }); await src.start();
const l = (await src.poll()).listeners.find((x) => x.port === ${port});
process.stdout.write(JSON.stringify({ privileged: src.info().privileged, owners: l?.owners ?? null }));`;
  const bounding = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  const r = spawnSync('setpriv', [`--inh-caps=${bounding}`, `--bounding-set=${bounding}`, process.execPath, '--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { privileged: boolean; owners: number[] };
}

test('CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH (and neither alone) attribute another user\'s listener', async (t) => {
  if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--help']).status !== 0) {
    t.skip('needs root and setpriv (util-linux) to run with chosen capabilities and a listener of another user');
    return;
  }
  // node itself is the other user's listener: it is executable by everyone, unlike a pyenv shim.
  const code = "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); }); setTimeout(() => {}, 120000);";
  const other = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
  t.after(() => { other.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    other.stdout.once('data', (b: Buffer) => { resolve(Number(b.toString().trim())); });
    other.once('exit', (c) => { reject(new Error(`listener exited ${String(c)}`)); });
  });
  assert.deepEqual(ownersWith([], port), { privileged: false, owners: [] });
  assert.deepEqual(ownersWith(['sys_ptrace'], port).owners, []);
  assert.deepEqual(ownersWith(['dac_read_search'], port).owners, []);
  assert.deepEqual(ownersWith(['sys_ptrace', 'dac_read_search'], port), { privileged: true, owners: [other.pid] });
});
