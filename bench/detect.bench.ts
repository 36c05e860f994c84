// Detection speed with every SigmaHQ rule loaded: process events per second on one core, against
// a JSON.parse of the same events (a reference measured in the same run) and the built-in rules alone.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ruleFilesUnder } from '../agent/detect/check.js';
import { detectSchema } from '../agent/detect/config.js';
import { createEngine } from '../agent/detect/engine.js';
import { builtinRuleFiles, documentSources, ruleDocuments, loadRuleFile } from '../agent/detect/load.js';
import { buildRule } from '../agent/detect/rules.js';
import type { Detector } from '../agent/detect/types.js';
import { DocumentBuilder } from '../agent/ecs/builder.js';
import type { EcsDocument } from '../agent/ecs/document.js';
import { sampleAgent, sampleHost } from '../agent/ecs/samples.js';
import { ProcessTable } from '../agent/lineage/process-table.js';
import { silentLogger } from '../agent/log/logger.js';
import type { ProcessRecord } from '../agent/sources/types.js';
import type { BenchTable } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
/** SigmaHQ's process_creation and network_connection rules (../shared/sigma next to the checkout). */
const CORPUS = resolve(here, '..', '..', '..', 'shared', 'sigma');

function sigmaDetectors(dir: string): { rules: Detector[]; unsupported: number } {
  const rules: Detector[] = [];
  let unsupported = 0;
  for (const file of ruleFilesUnder(dir)) {
    const docs = ruleDocuments(file);
    docs.forEach((d, i) => {
      try {
        rules.push(...documentSources(d, file, i, docs.length).map(buildRule));
      } catch {
        unsupported++;
      }
    });
  }
  return { rules, unsupported };
}

// Everyday command lines on both OSes (a few of them hit rules), cycled with varying arguments.
const WINDOWS: [string, string, string][] = [
  ['C:\\Windows\\explorer.exe', 'C:\\Windows\\System32\\cmd.exe', 'cmd.exe /c echo build done'],
  ['C:\\Windows\\System32\\services.exe', 'C:\\Windows\\System32\\svchost.exe', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule'],
  ['C:\\Windows\\explorer.exe', 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US'],
  ['C:\\Windows\\explorer.exe', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'powershell.exe -NoProfile -Command Get-ChildItem C:\\logs | Measure-Object'],
  ['C:\\Windows\\explorer.exe', 'C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE', '"WINWORD.EXE" /n "C:\\Users\\alice\\Documents\\report.docx"'],
  ['C:\\Windows\\explorer.exe', 'C:\\Windows\\System32\\notepad.exe', 'notepad.exe C:\\Users\\alice\\todo.txt'],
  ['C:\\Windows\\System32\\cmd.exe', 'C:\\Program Files\\Git\\cmd\\git.exe', 'git status --short'],
  ['C:\\Windows\\System32\\cmd.exe', 'C:\\Windows\\System32\\OpenSSH\\ssh.exe', 'ssh -R 9000:127.0.0.1:3389 op@198.51.100.4'],
];
const LINUX: [string, string, string][] = [
  ['/usr/bin/bash', '/usr/bin/ls', 'ls -la /var/log'],
  ['/usr/lib/systemd/systemd', '/usr/sbin/cron', '/usr/sbin/cron -f'],
  ['/usr/bin/bash', '/usr/bin/git', 'git -C /srv/app pull --ff-only origin main'],
  ['/usr/bin/make', '/usr/bin/gcc', 'gcc -O2 -c -o build/main.o src/main.c'],
  ['/usr/bin/bash', '/usr/bin/python3', 'python3 /opt/app/manage.py migrate --noinput'],
  ['/usr/bin/bash', '/usr/bin/rsync', 'rsync -a /srv/app/ /backup/app/'],
  ['/usr/sbin/sshd', '/usr/bin/bash', '-bash'],
  ['/usr/bin/bash', '/usr/bin/gawk', 'gawk \'BEGIN {system("/bin/sh")}\''],
];

export function events(n: number): EcsDocument[] {
  const out: EcsDocument[] = [];
  for (const os of ['windows', 'linux'] as const) {
    const host = { ...sampleHost, id: `bench-${os}`, os: { ...sampleHost.os, type: os, platform: os === 'windows' ? 'win32' : 'linux' } };
    const builder = new DocumentBuilder(host, sampleAgent);
    const table = new ProcessTable({ hostId: host.id, bootId: 'b' });
    const list = os === 'windows' ? WINDOWS : LINUX;
    let clock = Date.parse('2026-01-05T10:00:00Z');
    let pid = 1000;
    for (let i = 0; i < n / 2; i++) {
      const [parentExe, exe, cmd] = list[i % list.length] ?? ['', '', ''];
      const rec = (e: string, c: string, ppid: number): ProcessRecord => {
        clock += 1;
        const name = e.split(/[\\/]/).pop() ?? e;
        return { pid: ++pid, ppid, startKey: String(clock), start: new Date(clock).toISOString(), name, executable: e, commandLine: c, userName: 'alice' };
      };
      const parent = table.upsert(rec(parentExe, parentExe, 1)).node;
      const child = table.upsert(rec(exe, `${cmd} ${i}`, parent.record.pid)).node;
      out.push(builder.process(os === 'windows' ? 'start' : 'exec', child, table.ancestors(child)));
    }
  }
  return out;
}

/**
 * CPU milliseconds this process spent since `c0`: "per second on one core" is CPU throughput, and
 * on a machine shared with other work wall time also counts the time others had the core.
 */
function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

function rate(docs: readonly unknown[], fn: (d: unknown) => void, minMs = 1500): number {
  let n = 0;
  const c0 = process.cpuUsage();
  let ms = 0;
  while (ms < minMs) {
    for (const d of docs) fn(d);
    n += docs.length;
    ms = cpuSince(c0);
  }
  return n / (ms / 1000);
}

export default function bench(): Promise<BenchTable[]> {
  if (!existsSync(CORPUS)) {
    return Promise.resolve([{ title: 'detection with SigmaHQ rules', columns: ['skipped'], rows: [[`no SigmaHQ corpus at ../shared/sigma (${CORPUS})`]] }]);
  }
  const { rules: sigma, unsupported } = sigmaDetectors(join(CORPUS, 'rules'));
  const builtin = builtinRuleFiles().flatMap(loadRuleFile);
  const docs = events(4000);
  const lines = docs.map((d) => JSON.stringify(d));
  const config = detectSchema.parse({ builtin_rules: false, baseline: { enabled: false } });
  const builder = new DocumentBuilder(sampleHost, sampleAgent);
  const engineOf = (rules: Detector[]) => createEngine({ config, configFile: '(bench)', builder, logger: silentLogger, baseline: undefined, rules });
  // A fresh engine per pass over the events (its fire-once memory would otherwise skip rules that
  // fired on the previous pass); building it is not timed, as the agent builds it once.
  const measure = (rules: Detector[]) => {
    let alerts = 0;
    let ms = 0;
    let n = 0;
    while (ms < 1500) {
      const engine = engineOf(rules);
      const c0 = process.cpuUsage();
      for (const d of docs) alerts += engine.evaluate(d).length;
      ms += cpuSince(c0);
      n += docs.length;
    }
    return { r: n / (ms / 1000), alerts: Math.round(alerts / (n / docs.length)) };
  };
  const parse = rate(lines, (l) => { JSON.parse(l as string); });
  const native = measure(builtin);
  const only = measure(sigma);
  const all = measure([...builtin, ...sigma]);
  // The same rules without their literal sets: every condition runs for every event.
  const bare = measure([...builtin, ...sigma].map((d): Detector => ({ meta: d.meta, test: (doc, ctx) => d.test(doc, ctx) })));
  const row = (name: string, count: number, x: { r: number; alerts?: number }) =>
    [name, count, Math.round(x.r), (x.r / parse).toFixed(3), x.alerts ?? '-'];
  return Promise.resolve([{
    title: `detection: process events/s on one core, ${sigma.length} SigmaHQ rules loaded (${unsupported} unsupported)`,
    columns: ['what', 'rules', 'events/s', 'ratio to JSON.parse', 'alerts per pass'],
    rows: [
      row('JSON.parse of the same events (reference)', 0, { r: parse }),
      row('built-in rules', builtin.length, native),
      row('SigmaHQ rules, literal prefilter', sigma.length, only),
      row('built-in + SigmaHQ rules, literal prefilter', builtin.length + sigma.length, all),
      row('built-in + SigmaHQ rules, no prefilter', builtin.length + sigma.length, bare),
    ],
    notes: [`${docs.length} distinct process events (half Windows, half Linux, everyday command lines and a few attacks), each evaluated in full (rules, fire-once memory, alert building); rates per second of this process's CPU time (user + system).`],
  }]);
}
