// The prefilter (literal sets of each rule, one Aho-Corasick pass per event, candidates in typed
// arrays) must change no verdict: for random rules and random process documents, the engine's
// alerts are exactly the rules whose condition holds when tested directly, one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detectSchema } from '../../../agent/detect/config.js';
import { createEngine } from '../../../agent/detect/engine.js';
import { buildRule } from '../../../agent/detect/rules.js';
import type { Detector, RuleSpec } from '../../../agent/detect/types.js';
import { silentLogger } from '../../../agent/log/logger.js';
import type { ProcessRecord } from '../../../agent/sources/types.js';
import { Harness, ids } from '../agent/detect/harness.js';

const WORDS = ['cmd', 'CMD.exe', 'powershell', '-enc', '/c', '–enc', 'NT AUTHORITY', 'SYSTEM', 'bash', '/dev/tcp/', 'ſystem', '\u212aill', 'kill', 'nc', 'ncat', '😀', 'ΣΑΣ', 'σας', 'x', ' ', '\\', 'İx'];
const FIELDS = [
  'process.name', 'process.command_line', 'process.executable', 'process.args', 'process.parent.name', 'process.parent.command_line',
  'user.name', 'user.domain', 'qualified.user.name', 'qualified.process.parent.user.name', 'ancestor.process.name', 'process.pid',
];

const word = fc.constantFrom(...WORDS);
const phrase = fc.oneof({ arbitrary: word, weight: 4 }, { arbitrary: fc.array(word, { minLength: 2, maxLength: 3 }).map((ws) => ws.join('')), weight: 1 });
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const regexSrc = fc.oneof(
  phrase.map(escape),
  fc.array(phrase.map(escape), { minLength: 2, maxLength: 3 }).map((ps) => `(${ps.join('|')})`),
  fc.tuple(phrase.map(escape), phrase.map(escape), fc.constantFrom('.*', '\\s*', '(?:x)?', '[^a]', '(?!nc)', '\\b')).map(([a, b, mid]) => `${a}${mid}${b}`),
  fc.tuple(phrase.map(escape), fc.constantFrom('?', '*', '+', '{2}')).map(([a, q]) => `(?:${a})${q}`),
);
const values = fc.array(phrase, { minLength: 1, maxLength: 3 });
const matcher = fc.oneof(
  phrase,
  values,
  fc.record({
    op: fc.constantFrom('equals', 'contains', 'startswith', 'endswith'), v: values,
    all: fc.boolean(), not: fc.boolean(), cs: fc.constantFrom(undefined, true, false),
  }).map(({ op, v, all, not, cs }) => ({ [op]: v, ...(all ? { all } : {}), ...(not ? { not } : {}), ...(cs === undefined ? {} : { case_sensitive: cs }) })),
  fc.tuple(regexSrc, fc.boolean()).map(([src, not]) => ({ regex: src, ...(not ? { not } : {}) })),
  fc.tuple(regexSrc, fc.constantFrom('', 'i', 'u', 'iu', 'is')).map(([src, flags]) => ({ re: [`/${src}/${flags}`] })),
  phrase.map((p) => ({ glob: `*${p}*` })),
  fc.boolean().map((b) => ({ exists: b })),
  fc.tuple(fc.constantFrom('contains', 'endswith'), values).map(([op, v]) => ({ [op]: v, exists: true })),
);
const selection = fc.dictionary(fc.constantFrom(...FIELDS), matcher, { minKeys: 1, maxKeys: 2 });
const when: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    selection,
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
    fc.tuple(selection, tie('node')).map(([s, not]) => ({ ...s, not })),
  ),
})).node;

function rule(i: number, w: unknown): Detector {
  const spec: RuleSpec = {
    id: `r${i}`, name: `r${i}`, description: '', applies_to: 'process', os: [], severity: 'medium',
    tactic: 'TA0002', technique: 'T1059', references: [], enabled: true, when: w,
  };
  return buildRule({ spec, file: '(property)', index: i, ruleset: 'property', packVersion: '1' });
}

const proc = fc.record({
  name: phrase, commandLine: fc.array(word, { maxLength: 8 }).map((ws) => ws.join(' ')),
  args: fc.array(phrase, { maxLength: 3 }), userName: fc.constantFrom(undefined, 'SYSTEM', 'alice', 'ſystem'), userDomain: fc.constantFrom(undefined, 'NT AUTHORITY', 'CORP'),
});

test('prefilter on or off, the same alerts: random rules over random process documents (property)', () => {
  let alerts = 0;
  let gated = 0;
  fc.assert(fc.property(fc.array(when, { minLength: 1, maxLength: 6 }), proc, proc, fc.constantFrom('windows' as const, 'linux' as const), (whens, parent, child, os) => {
    let rules: Detector[];
    try { rules = whens.map((w, i) => rule(i, w)); } catch { return; } // a random tree the rule language refuses
    const h = new Harness(os);
    const strip = (o: object): Partial<ProcessRecord> & { name: string } => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<ProcessRecord> & { name: string };
    const doc = h.processDoc(h.chain({ name: 'explorer.exe' }, strip(parent), strip(child)));
    const c = detectSchema.parse({ builtin_rules: false, baseline: { enabled: false } });
    const e = createEngine({ config: c, configFile: '(property)', builder: h.builder, logger: silentLogger, baseline: undefined, rules });
    const direct = rules.filter((r) => r.test(doc, { os, ci: os === 'windows', now: 0 }) !== undefined).map((r) => r.meta.id).sort();
    assert.deepEqual(ids(e.evaluate(doc)), direct, JSON.stringify({ whens, doc: doc.process }));
    alerts += direct.length;
    gated += direct.filter((id) => rules.find((r) => r.meta.id === id)?.literals !== undefined).length;
  }), { numRuns: 3000 });
  // Not vacuous: many rules matched, and many of them through the prefilter's literal sets.
  assert.ok(alerts > 300 && gated > 100, `${alerts} alerts, ${gated} of rules with literal sets`);
});
