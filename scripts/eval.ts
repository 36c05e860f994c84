/**
 * `npm run eval`: converts ../shared/evalset/events.ndjson to the ECS documents portwarden would
 * emit, replays each source file through the default detection engine (fresh per file, as each is
 * a separate recording), and prints per-scenario detection of the labelled parent_child and
 * listener primary steps, counted per recording (scenario) and per target (the parent_child and
 * the listener target of a scenario each on its own: an alert on one does not excuse a miss on the
 * other), plus the share of background events that alert and the rules that fired on them.
 * Each recording is replayed in the order its events happened (Sysmon's UtcTime), as a live agent
 * would have seen them. Measures only: no rule may name the evalset's hosts, users, paths or
 * command lines.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED } from '../config/loader.js';
import { detectSchema } from '../agent/detect/config.js';
import { offlineBuilder, Replayer, replayEngine } from '../agent/detect/replay.js';
import type { EcsDocument } from '../agent/ecs/document.js';
import { getField } from '../agent/ecs/document.js';
import { eventTime, toEcs } from './eval-convert.js';
import type { EvalEvent } from './eval-convert.js';

interface Label { event_id: string; source_id: string; label: string; role?: string; detection_target?: string; note?: string }
interface Outcome { seen: boolean; families: Set<string>; rules: Set<string> }

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) dir = dirname(dir);
  return dir;
}

const readNdjson = <T>(file: string): T[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)} %`);
const TARGET_FAMILY: Record<string, string> = { parent_child: 'unusual_parent_child', listener: 'unusual_listener' };

function main(): number {
  const dir = join(repoRoot(), '..', 'shared', 'evalset');
  if (!existsSync(join(dir, 'events.ndjson'))) {
    process.stdout.write(`eval: skipped: no evalset at ${dir} (expected events.ndjson and labels.ndjson there)\n`);
    return 0;
  }
  const listFp = process.argv.includes('--fp');
  const events = readNdjson<EvalEvent>(join(dir, 'events.ndjson'));
  const labels = new Map(readNdjson<Label>(join(dir, 'labels.ndjson')).map((l) => [l.event_id, l]));
  const sources = JSON.parse(readFileSync(join(dir, 'sources.json'), 'utf8')) as { id: string; scenario: string }[];
  const outcome = new Map<string, Outcome>();
  const config = detectSchema.parse({});
  const bySource = new Map<string, EvalEvent[]>();
  for (const e of events) bySource.set(e.source_id, [...(bySource.get(e.source_id) ?? []), e]);
  for (const [, unordered] of bySource) {
    const evs = unordered.map((e, i) => ({ e, i, t: eventTime(e) })).sort((a, b) => a.t - b.t || a.i - b.i).map((x) => x.e);
    const replayer = new Replayer(replayEngine(config, EMBEDDED, offlineBuilder()), {
      onAlert: () => undefined,
      onEvaluated: (doc: EcsDocument, alerts: EcsDocument[]) => {
        const o = outcome.get(String(getField(doc, 'labels.eval_event_id')));
        if (o === undefined) return;
        for (const a of alerts) {
          o.families.add(a.event.action);
          o.rules.add(String(getField(a, 'rule.id')));
        }
      },
    });
    for (const e of evs) {
      const doc = toEcs(e);
      outcome.set(e.event_id, { seen: doc !== undefined, families: new Set(), rules: new Set() });
      if (doc !== undefined) replayer.doc(doc);
    }
  }
  const out: string[] = ['| scenario | parent_child primaries | listener primaries | rules on primaries | what |', '|---|---|---|---|---|'];
  let scored = 0; let detected = 0; const missed: string[] = []; const undetectable: string[] = [];
  let targets = 0; let targetsHit = 0; const targetsMissed: string[] = [];
  for (const s of sources) {
    const cells: string[] = []; const rules = new Set<string>(); let any = false; let hit = false; let allSubtle = true;
    for (const target of ['parent_child', 'listener']) {
      const prim = events.filter((e) => e.source_id === s.id && labels.get(e.event_id)?.role === 'primary' && labels.get(e.event_id)?.detection_target === target);
      if (prim.length === 0) { cells.push('-'); continue; }
      any = true;
      const flagged = prim.filter((e) => outcome.get(e.event_id)?.families.has(TARGET_FAMILY[target] ?? '') === true);
      for (const e of flagged) for (const r of outcome.get(e.event_id)?.rules ?? []) rules.add(r);
      if (flagged.length > 0) hit = true;
      const subtle = prim.every((e) => /subtle|pair is normal/.test(labels.get(e.event_id)?.note ?? ''));
      if (!subtle) allSubtle = false;
      targets++;
      if (flagged.length > 0) targetsHit++;
      else targetsMissed.push(`${s.id} ${target}${subtle ? ' (documented as subtle)' : ''}`);
      cells.push(`${flagged.length > 0 ? 'yes' : '**no**'} (${flagged.length}/${prim.length})`);
    }
    if (!any) continue;
    scored++;
    if (hit) detected++;
    else if (allSubtle) undetectable.push(s.id);
    else missed.push(s.id);
    out.push(`| ${s.id} | ${cells.join(' | ')} | ${[...rules].sort().join(', ')} | ${s.scenario.slice(0, 70).replace(/\|/g, '/')} |`);
  }
  const bg = events.filter((e) => labels.get(e.event_id)?.label === 'background');
  const bgSeen = bg.filter((e) => outcome.get(e.event_id)?.seen === true);
  const bgAlert = bg.filter((e) => (outcome.get(e.event_id)?.rules.size ?? 0) > 0);
  out.push('', `Scenarios with parent_child or listener primaries: ${scored}; detected: ${detected}; missed: ${missed.length}${missed.length > 0 ? ` (${missed.join(', ')})` : ''}; documented as undetectable from process data (every primary marked subtle / pair is normal): ${undetectable.length}${undetectable.length > 0 ? ` (${undetectable.join(', ')})` : ''}.`);
  out.push('', `Targets (each scenario's parent_child and listener target counted on its own): ${targets}; detected: ${targetsHit}/${targets}; missed: ${targetsMissed.length > 0 ? targetsMissed.join(', ') : 'none'}.`);
  out.push('', '| background | events | alerting | share |', '|---|---|---|---|');
  out.push(`| all background events | ${bg.length} | ${bgAlert.length} | ${pct(bgAlert.length, bg.length)} |`);
  out.push(`| background events the agent would see (process starts, listens, accepted connections) | ${bgSeen.length} | ${bgAlert.length} | ${pct(bgAlert.length, bgSeen.length)} |`);
  const tele = [...new Set(bgSeen.map((e) => e.telemetry))].sort();
  for (const t of tele) {
    const n = bgSeen.filter((e) => e.telemetry === t);
    const a = n.filter((e) => (outcome.get(e.event_id)?.rules.size ?? 0) > 0);
    out.push(`| ${t} | ${n.length} | ${a.length} | ${pct(a.length, n.length)} |`);
  }
  const byRule = new Map<string, number>();
  for (const e of bgAlert) for (const r of outcome.get(e.event_id)?.rules ?? []) byRule.set(r, (byRule.get(r) ?? 0) + 1);
  out.push('', `Rules that fired on background events: ${byRule.size === 0 ? 'none' : [...byRule].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} (${n})`).join(', ')}.`);
  if (listFp) {
    out.push('', 'Background events that alerted:');
    for (const e of bgAlert) out.push(`- ${e.event_id} ${e.telemetry} ${e.parent_image ?? ''} -> ${e.image} :${e.src_port ?? ''}/${e.dst_port ?? ''} [${[...(outcome.get(e.event_id)?.rules ?? [])].join(', ')}]`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

process.exitCode = main();
