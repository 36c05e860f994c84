import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestPki } from './pki.js';
import { freePort } from './rsyslog.js';
import { repoRoot } from '../paths.js';
import { waitFor } from '../wait.js';

/** One message as syslog-ng parsed it (its `format-json` output; `sdata` is `.SDATA.ID.PARAM`). */
export interface SyslogNgRecord {
  via: 'tcp' | 'lf' | 'udp' | 'tls';
  pri: string;
  facility: string;
  host: string;
  program: string;
  pid: string;
  msgid: string;
  isodate: string;
  msg: string;
  rawmsg: string;
  _SDATA?: Record<string, Record<string, string>>;
}

export interface SyslogNgPeer {
  /** syslog() driver: RFC 6587 octet counting (RFC 5424 parsed; BSD messages parsed as RFC 3164). */
  readonly tcpPort: number;
  /** network() driver: one message per line (`flags(syslog-protocol)`: RFC 5424, BSD as fallback). */
  readonly lfPort: number;
  readonly udpPort: number;
  /** syslog() over TLS with the PKI's server certificate (server authentication only). */
  readonly tlsPort: number;
  records(): Promise<SyslogNgRecord[]>;
  waitFor(pred: (r: SyslogNgRecord[]) => boolean, ms?: number): Promise<SyslogNgRecord[]>;
  dispose(): Promise<void>;
}

/**
 * Where syslog-ng is: `$PORTWARDEN_SYSLOG_NG_ROOT`, else `.cache/syslog-ng` in the checkout (unpacked
 * there by scripts/fetch-syslog-ng.sh: Debian's syslog-ng-core conflicts with rsyslog as a package),
 * else an installed `syslog-ng`. Returns the command and the environment it needs.
 */
export function syslogNgCommand(): { bin: string; args: string[]; env: NodeJS.ProcessEnv } {
  const root = process.env.PORTWARDEN_SYSLOG_NG_ROOT ?? join(repoRoot, '.cache', 'syslog-ng');
  const bin = join(root, 'usr', 'sbin', 'syslog-ng');
  if (existsSync(bin)) {
    const lib = join(root, 'usr', 'lib', 'syslog-ng');
    return {
      bin,
      args: [`--module-path=${join(lib, '3.38')}`],
      env: { ...process.env, LD_LIBRARY_PATH: [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
    };
  }
  for (const dir of ['/usr/sbin', '/usr/local/sbin']) {
    if (existsSync(join(dir, 'syslog-ng'))) return { bin: join(dir, 'syslog-ng'), args: [], env: process.env };
  }
  throw new Error('syslog-ng not found: run scripts/fetch-syslog-ng.sh (unpacks Debian syslog-ng-core into .cache/syslog-ng)');
}

function config(dir: string, p: { tcp: number; lf: number; udp: number; tls: number }, pki: TestPki): string {
  const size = 'log-msg-size(262144)';
  const src = (via: string, driver: string) =>
    `source s_${via} { ${driver}; };\nlog { source(s_${via}); rewrite { set("${via}", value("via")); }; destination(d_out); };`;
  const keys = ['via', 'pri=${PRI}', 'facility=${FACILITY_NUM}', 'host=${HOST}', 'program=${PROGRAM}', 'pid=${PID}',
    'msgid=${MSGID}', 'isodate=${S_ISODATE}', 'msg=${MSG}', 'rawmsg=${RAWMSG}'];
  return [
    '@version: 3.38',
    `options { keep-hostname(yes); chain-hostnames(no); stats-freq(0); use-dns(no); dns-cache(no); frac-digits(6); ${size}; };`,
    `template t_json { template("$(format-json ${keys.join(' ')} --key .SDATA.*)\\n"); };`,
    `destination d_out { file("${join(dir, 'out.jsonl')}" template(t_json)); };`,
    src('tcp', `syslog(ip("127.0.0.1") port(${p.tcp}) transport("tcp") flags(store-raw-message) ${size})`),
    src('lf', `network(ip("127.0.0.1") port(${p.lf}) transport("tcp") flags(syslog-protocol, store-raw-message) ${size})`),
    src('udp', `syslog(ip("127.0.0.1") port(${p.udp}) transport("udp") flags(store-raw-message) ${size})`),
    src('tls', `syslog(ip("127.0.0.1") port(${p.tls}) transport("tls") flags(store-raw-message) ${size} ` +
      `tls(key-file("${pki.serverKey}") cert-file("${pki.serverCert}") peer-verify(optional-untrusted)))`),
  ].join('\n') + '\n';
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.once('error', () => { resolve(false); });
  });
}

/**
 * Starts `syslog-ng -F` on loopback ports chosen now, with its persist file, pid file and control
 * socket in a temp dir, writing one JSON line per parsed message. Call `dispose()` in `t.after`.
 */
export async function startSyslogNg(pki: TestPki): Promise<SyslogNgPeer> {
  const cmd = syslogNgCommand();
  const dir = await mkdtemp(join(tmpdir(), 'pw-syslog-ng-'));
  const ports = { tcp: await freePort(), lf: await freePort(), udp: await freePort(), tls: await freePort() };
  const conf = join(dir, 'syslog-ng.conf');
  await writeFile(conf, config(dir, ports, pki));
  const out = join(dir, 'out.jsonl');
  let stderr = '';
  const child: ChildProcess = spawn(cmd.bin, [...cmd.args, '-F', '-f', conf, '-R', join(dir, 'persist'),
    '-p', join(dir, 'pid'), '-c', join(dir, 'ctl')], { env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitFor(`syslog-ng to listen (${stderr})`, async () => {
      if (child.exitCode !== null) throw new Error(`syslog-ng exited ${child.exitCode}: ${stderr}`);
      for (const p of [ports.tcp, ports.lf, ports.tls]) if (!(await canConnect(p))) return undefined;
      return true;
    }, 15_000, 50);
  } catch (err) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const records = async (): Promise<SyslogNgRecord[]> => {
    const text = await readFile(out, 'utf8').catch(() => '');
    // Only complete lines: syslog-ng may be half-way through a long one.
    return text.split('\n').slice(0, -1).filter((l) => l !== '').map((l) => JSON.parse(l) as SyslogNgRecord);
  };
  return {
    tcpPort: ports.tcp, lfPort: ports.lf, udpPort: ports.udp, tlsPort: ports.tls,
    records,
    waitFor: async (pred, ms = 20_000) => {
      let last: SyslogNgRecord[] = [];
      try {
        return await waitFor('syslog-ng output', async () => { last = await records(); return pred(last) ? last : undefined; }, ms, 50);
      } catch (err) {
        throw new Error(`${(err as Error).message}; got ${last.length} records; syslog-ng said: ${stderr.slice(-2000)}`, { cause: err });
      }
    },
    dispose: async () => { await stop(); await rm(dir, { recursive: true, force: true }); },
  };
}
