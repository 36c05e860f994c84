import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestPki } from './pki.js';
import { waitFor } from '../wait.js';

/** One message as rsyslog parsed it (strings, as its JSON template writes them). */
export interface RsyslogRecord {
  via: 'tcp' | 'udp' | 'tls' | 'mtls';
  'protocol-version': string;
  pri: string;
  facility: string;
  severity: string;
  timereported: string;
  hostname: string;
  'app-name': string;
  procid: string;
  msgid: string;
  syslogtag: string;
  'structured-data': string;
  /** mmpstrucdata's parse of the structured data, as JSON text (`{ "id": { "param": "value" } }`). */
  sd: string;
  msg: string;
  rawmsg: string;
}

export interface RsyslogPeer {
  readonly tcpPort: number;
  readonly udpPort: number;
  /** Present when started with a PKI: TLS (server auth only) and mutual TLS ports. */
  readonly tlsPort: number;
  readonly mtlsPort: number;
  /** Everything rsyslog wrote so far, probes excluded. */
  records(): Promise<RsyslogRecord[]>;
  /** Lines rsyslog wrote so far, probes included (cheap: counts newlines, parses nothing). */
  lineCount(): Promise<number>;
  /** Waits until `pred(records)` holds, or throws after `ms` with what arrived. */
  waitFor(pred: (r: RsyslogRecord[]) => boolean, ms?: number): Promise<RsyslogRecord[]>;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
  /** Starts rsyslogd again on the same ports, appending to the same output. */
  start(): Promise<void>;
  /** Stops rsyslogd and removes its directory. */
  dispose(): Promise<void>;
}

const PROBE_APP = 'rsyslog-peer-probe';

/** A port that was free on 127.0.0.1 a moment ago (TCP, and UDP on the same number when `udp`). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => { resolve(typeof addr === 'object' && addr !== null ? addr.port : 0); });
    });
  });
}

function config(dir: string, ports: { tcp: number; udp: number; tls: number; mtls: number }, pki?: TestPki): string {
  const props = ['protocol-version', 'pri', 'syslogfacility:facility', 'syslogseverity:severity', 'hostname', 'app-name',
    'procid', 'msgid', 'syslogtag', 'structured-data', '$!rfc5424-sd:sd', 'msg', 'rawmsg', '$.via:via'];
  const tpl = props.map((p) => {
    const [name, out] = p.split(':');
    return `  property(outname="${out ?? name ?? ''}" name="${name ?? ''}" format="jsonf")`;
  });
  tpl.splice(4, 0, '  property(outname="timereported" name="timereported" dateFormat="rfc3339" format="jsonf")');
  const tlsGlobals = pki === undefined ? '' :
    ` DefaultNetstreamDriverCAFile="${pki.ca}" DefaultNetstreamDriverCertFile="${pki.serverCert}" DefaultNetstreamDriverKeyFile="${pki.serverKey}"`;
  const input = (via: string, type: string, port: number, extra = '') =>
    `input(type="${type}" port="${port}" address="127.0.0.1" ruleset="in_${via}"${extra})\n` +
    `ruleset(name="in_${via}") { set $.via = "${via}"; call out }`;
  const lines = [
    `global(maxMessageSize="256k" workDirectory="${dir}" net.enableDNS="off" parser.escapeControlCharacterTab="off"${tlsGlobals})`,
    'module(load="imtcp" maxSessions="200")', 'module(load="imudp")', 'module(load="mmpstrucdata")',
    `template(name="json" type="list" option.jsonf="on") {\n${tpl.join('\n')}\n}`,
    `ruleset(name="out") {\n  action(type="mmpstrucdata" sd_name.lowercase="off")\n` +
    `  action(type="omfile" file="${join(dir, 'out.jsonl')}" template="json")\n}`,
    input('tcp', 'imtcp', ports.tcp),
    input('udp', 'imudp', ports.udp),
  ];
  if (pki !== undefined) {
    const drv = (mode: string) => ` streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="${mode}"`;
    lines.push(input('tls', 'imtcp', ports.tls, drv('anon')), input('mtls', 'imtcp', ports.mtls, drv('x509/certvalid')));
  }
  return lines.join('\n') + '\n';
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.once('error', () => { resolve(false); });
  });
}

function sendUdpProbe(port: number, tag: string): Promise<void> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(); });
    s.send(`<14>1 - - ${PROBE_APP} - ${tag} - probe`, port, '127.0.0.1', () => { s.close(); resolve(); });
  });
}

/**
 * Starts `rsyslogd -n` on loopback ports chosen now (imtcp, imudp; with `pki`, ossl TLS and mutual
 * TLS), writing one JSON line per parsed message. Call `dispose()` in `t.after`.
 */
export async function startRsyslog(pki?: TestPki): Promise<RsyslogPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-rsyslog-'));
  const ports = { tcp: await freePort(), udp: await freePort(), tls: await freePort(), mtls: await freePort() };
  const conf = join(dir, 'rsyslog.conf');
  await writeFile(conf, config(dir, ports, pki));
  const out = join(dir, 'out.jsonl');
  let child: ChildProcess | undefined;
  let stderr = '';
  let probes = 0;
  const lines = { n: 0, offset: 0 };

  const readAll = async (): Promise<RsyslogRecord[]> => {
    const text = await readFile(out, 'utf8').catch(() => '');
    // rsyslog may be half-way through writing a long line: only complete lines count.
    return text.split('\n').slice(0, -1).filter((l) => l !== '').map((l) => JSON.parse(l) as RsyslogRecord);
  };
  const start = async (): Promise<void> => {
    const c = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const tag = `probe${++probes}`;
    await waitFor(`rsyslogd to listen (${stderr})`, async () => {
      if (c.exitCode !== null) throw new Error(`rsyslogd exited ${c.exitCode}: ${stderr}`);
      const ports2 = pki === undefined ? [ports.tcp] : [ports.tcp, ports.tls, ports.mtls];
      for (const p of ports2) if (!(await canConnect(p))) return undefined;
      await sendUdpProbe(ports.udp, tag);
      return (await readAll()).some((r) => r.msgid === tag) ? true : undefined;
    }, 15_000, 50);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  const records = async () => (await readAll()).filter((r) => r['app-name'] !== PROBE_APP);
  await start();
  return {
    tcpPort: ports.tcp, udpPort: ports.udp, tlsPort: ports.tls, mtlsPort: ports.mtls,
    records,
    lineCount: async () => {
      // Incremental: only the bytes appended since the last call are read.
      const fh = await open(out, 'r').catch(() => undefined);
      if (fh === undefined) return lines.n;
      try {
        const buf = Buffer.alloc(1 << 20);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, lines.offset);
          if (bytesRead === 0) break;
          lines.offset += bytesRead;
          for (let i = buf.indexOf(10); i !== -1 && i < bytesRead; i = buf.indexOf(10, i + 1)) lines.n++;
        }
      } finally {
        await fh.close();
      }
      return lines.n;
    },
    waitFor: async (pred, ms = 20_000) => {
      let last: RsyslogRecord[] = [];
      try {
        return await waitFor('rsyslog output', async () => { last = await records(); return pred(last) ? last : undefined; }, ms, 50);
      } catch (err) {
        throw new Error(`${(err as Error).message}; got ${last.length} records; rsyslogd said: ${stderr.slice(-2000)}`, { cause: err });
      }
    },
    stop, start,
    dispose: async () => { await stop(); await rm(dir, { recursive: true, force: true }); },
  };
}
