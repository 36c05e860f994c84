// Every SigmaHQ rule of the ../shared/sigma snapshot and every built-in rule, over documents made
// from the rules' own values (one per selection, so that the filters of one rule meet the
// selections of others) and the evalset's events converted: a rule whose condition holds when
// tested directly (no prefilter, no field cache) is always one of the prefilter's candidates, and
// the engine's cached evaluation gives the same verdict. Skipped without ../shared/sigma.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { builtinRuleFiles, loadRuleFile } from '../../../../agent/detect/load.js';
import { FieldCache } from '../../../../agent/detect/matcher.js';
import { documentText, Prefilter } from '../../../../agent/detect/prefilter.js';
import type { Detector } from '../../../../agent/detect/types.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { toEcs } from '../../../../scripts/eval-convert.js';
import type { EvalEvent } from '../../../../scripts/eval-convert.js';
import { sharedDir } from '../../../../testkit/paths.js';
import { Harness } from './harness.js';

const SIGMA = join(sharedDir, 'sigma');
const EVALSET = join(sharedDir, 'evalset', 'events.ndjson');

function ymlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? ymlFiles(join(dir, d.name)) : d.name.endsWith('.yml') ? [join(dir, d.name)] : []));
}

type Rec = Partial<ProcessRecord> & { name: string };
const FIELD: Record<string, 'executable' | 'commandLine' | 'parentExecutable' | 'parentCommandLine' | 'user' | 'originalFileName' | 'workingDirectory'> = {
  Image: 'executable', CommandLine: 'commandLine', ParentImage: 'parentExecutable', ParentCommandLine: 'parentCommandLine',
  User: 'user', OriginalFileName: 'originalFileName', CurrentDirectory: 'workingDirectory',
};

/** A value a Sigma field|modifiers item would match (wildcards dropped, `\x` paths rooted). */
function sample(mods: string[], v: string): string {
  const s = v.replace(/[*?]/g, '');
  if (mods.includes('re') || mods.includes('base64') || mods.includes('base64offset')) return s;
  if (mods.includes('endswith')) return `C:\\Windows${s.startsWith('\\') ? '' : '\\x '}${s}`;
  if (mods.includes('contains')) return `x ${s} y`;
  if (mods.includes('startswith')) return `${s} y`;
  return s;
}

/** Process chains from one rule's selections: one per selection (first values), one with the last values. */
function chainsOf(file: string): { os: 'windows' | 'linux'; parent: Rec; child: Rec }[] {
  const out: { os: 'windows' | 'linux'; parent: Rec; child: Rec }[] = [];
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const r = d.toJS() as { logsource?: { product?: string }; detection?: Record<string, unknown> } | null;
    const os = r?.logsource?.product === 'linux' ? 'linux' : 'windows';
    for (const [name, sel] of Object.entries(r?.detection ?? {})) {
      if (name === 'condition') continue;
      const maps = (Array.isArray(sel) ? sel : [sel]).filter((m): m is Record<string, unknown> => m !== null && typeof m === 'object');
      for (const pick of [0, -1]) {
        const got: Record<string, string> = {};
        for (const m of maps) {
          for (const [key, raw] of Object.entries(m)) {
            const [field = '', ...mods] = key.split('|');
            const vals = (Array.isArray(raw) ? raw : [raw]).filter((x) => typeof x === 'string' || typeof x === 'number').map(String);
            const f = FIELD[field];
            const v = pick === 0 ? vals[0] : vals[vals.length - 1];
            if (f !== undefined && v !== undefined) got[f] = sample(mods, v);
          }
        }
        if (Object.keys(got).length === 0) continue;
        const exe = got.executable ?? (os === 'windows' ? 'C:\\Windows\\System32\\cmd.exe' : '/usr/bin/sh');
        const [dom, user] = (got.user ?? '').includes('\\') ? (got.user ?? '').split('\\') : [undefined, got.user];
        const child: Rec = { name: exe.split(/[\\/]/).pop() ?? 'x', executable: exe };
        if (got.commandLine !== undefined) child.commandLine = got.commandLine;
        if (got.originalFileName !== undefined) child.originalFileName = got.originalFileName;
        if (got.workingDirectory !== undefined) child.workingDirectory = got.workingDirectory;
        if (user !== undefined && user !== '') child.userName = user;
        if (dom !== undefined && dom !== '') child.userDomain = dom;
        const pexe = got.parentExecutable ?? (os === 'windows' ? 'C:\\Windows\\explorer.exe' : '/usr/bin/bash');
        const parent: Rec = { name: pexe.split(/[\\/]/).pop() ?? 'x', executable: pexe };
        if (got.parentCommandLine !== undefined) parent.commandLine = got.parentCommandLine;
        out.push({ os, parent, child });
      }
    }
  }
  return out;
}

test('every ../shared/sigma and built-in rule that matches a document is a prefilter candidate, with the same verdict cached', { skip: !existsSync(SIGMA) && 'no ../shared/sigma' }, () => {
  const files = ymlFiles(SIGMA);
  const rules: Detector[] = [...builtinRuleFiles().flatMap(loadRuleFile)];
  for (const f of files) {
    try { rules.push(...loadRuleFile(f)); } catch { /* a rule the agent cannot run: not this test's concern */ }
  }
  const process = rules.filter((r) => r.meta.family === 'process');
  assert.ok(process.length > 1200, `${process.length} process rules loaded`);
  const pre = new Prefilter(process);
  const fields = new FieldCache();
  const docs: EcsDocument[] = [];
  const hs = { windows: new Harness('windows'), linux: new Harness('linux') };
  for (const f of files) {
    for (const { os, parent, child } of chainsOf(f)) docs.push(hs[os].processDoc(hs[os].chain({ name: os === 'windows' ? 'services.exe' : 'systemd' }, parent, child)));
  }
  if (existsSync(EVALSET)) {
    for (const line of readFileSync(EVALSET, 'utf8').split('\n')) {
      const d = line.trim() === '' ? undefined : toEcs(JSON.parse(line) as EvalEvent);
      if (d !== undefined) docs.push(d);
    }
  }
  let hits = 0;
  let gated = 0;
  const missed: string[] = [];
  for (const doc of docs) {
    const os = (doc.host as { os?: { type?: string } } | undefined)?.os?.type === 'linux' ? 'linux' : 'windows';
    const ctx = { os, ci: os === 'windows', now: 0 } as const;
    fields.reset();
    pre.scan(documentText(doc, fields));
    const candidates = new Set(pre.candidates());
    process.forEach((r, i) => {
      const direct = r.test(doc, ctx) !== undefined;
      const cached = candidates.has(i) && r.test(doc, { ...ctx, fields }) !== undefined;
      if (direct) hits++;
      if (direct && r.literals !== undefined) gated++;
      if (direct !== cached) missed.push(`${r.meta.id} (${r.meta.name}) on ${JSON.stringify((doc.process as { command_line?: string } | undefined)?.command_line)}`);
    });
  }
  assert.deepEqual(missed.slice(0, 20), [], `${missed.length} differences`);
  assert.ok(hits > 1000 && gated > 500, `${docs.length} documents, ${hits} direct matches, ${gated} of rules with literal sets`);
});
