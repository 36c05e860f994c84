import { ConfigError } from '../util/errors.js';
import type { OsType } from '../util/os.js';
import { validateRule } from './rule-schema.js';
import type { RuleSource } from './rules.js';
import { FILLED, HASH_FIELDS, KEYWORD_FIELDS, NOT_FILLED_WHY, productOs, SIGMA_CATEGORIES, SIGMA_FIELDS } from './sigma-fields.js';
import type { SigmaCategory, SigmaField } from './sigma-fields.js';
import { base64offset, encode, sigmaRegex, sigmaString, SigmaUnsupported, wildcardSource, windash } from './sigma-values.js';
import type { Encoding } from './sigma-values.js';

/**
 * Sigma rules as SigmaHQ publishes them, translated into portwarden's rule format (matcher.ts).
 * Log sources `process_creation` and `network_connection` for windows / linux / macos; fields
 * mapped as pySigma's ECS pipelines map them (sigma-fields.ts); modifiers contains, startswith,
 * endswith, all, windash, re (i/m/s), cidr, base64, base64offset, wide/utf16*, cased, exists,
 * fieldref; wildcards, null; conditions and / or / not / parentheses /
 * `1 of x*` / `all of x*` / `them`. Matching is case-insensitive as Sigma's is, except `re`
 * and `cased`.
 */
export { SIGMA_FIELDS } from './sigma-fields.js';

/** Valid Sigma the agent cannot run (a ConfigError, so the agent refuses it with its reason). */
export class UnsupportedRuleError extends ConfigError {
  constructor(file: string, keyPath: string, reason: string) {
    super(file, keyPath, `unsupported: ${reason}`);
    this.name = 'UnsupportedRuleError';
  }
}

const TACTIC_TAGS: Readonly<Record<string, string>> = {
  initial_access: 'TA0001', execution: 'TA0002', persistence: 'TA0003', privilege_escalation: 'TA0004',
  defense_evasion: 'TA0005', credential_access: 'TA0006', discovery: 'TA0007', lateral_movement: 'TA0008',
  collection: 'TA0009', exfiltration: 'TA0010', command_and_control: 'TA0011', impact: 'TA0040',
  resource_development: 'TA0042', reconnaissance: 'TA0043',
  // ATT&CK v18 split Defense Evasion into Stealth and Defense Impairment; SigmaHQ tags both.
  stealth: 'TA0005', defense_impairment: 'TA0005',
};
const LEVELS: Readonly<Record<string, string>> = { informational: 'low', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };

type Fail = (key: string, expected: string) => never;

/** True for a parsed YAML document that looks like a Sigma rule. */
export function isSigma(doc: unknown): doc is Record<string, unknown> {
  return doc !== null && typeof doc === 'object' && 'detection' in doc && 'logsource' in doc;
}

interface Ctx { category: SigmaCategory; os: OsType[]; fail: Fail }

const STRING_OPS = new Set(['contains', 'startswith', 'endswith']);
const ENCODINGS: Readonly<Record<string, Encoding>> = { wide: 'utf16le', utf16le: 'utf16le', utf16be: 'utf16be', utf16: 'utf16le' };

function mapField(name: string, ctx: Ctx): SigmaField {
  const f = SIGMA_FIELDS[ctx.category][name];
  if (f === undefined) throw new SigmaUnsupported(`field ${name} is not in ${ctx.category} events (known: ${Object.keys(SIGMA_FIELDS[ctx.category]).join(', ')})`);
  requireFilled(f.filled ?? f.ecs, name, ctx);
  return f;
}

function requireFilled(ecs: string, name: string, ctx: Ctx): void {
  for (const os of ctx.os) {
    if (!FILLED[os].has(ecs)) throw new SigmaUnsupported(`field ${name} (${ecs}) is not filled on ${os}: ${NOT_FILLED_WHY[ecs] ?? 'the agent does not collect it'}`);
  }
}

/** `Hashes|contains: SHA256=...` -> one alternative per algorithm field. */
function hashes(values: unknown[], ctx: Ctx): unknown {
  const alts = values.map((v) => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    const [, algo = '', hex = ''] = /^([A-Za-z0-9]+)=([0-9A-Fa-f]+)$/.exec(text) ?? [];
    const field = HASH_FIELDS[algo.toUpperCase()];
    if (field === undefined) throw new SigmaUnsupported(`Hashes value "${text}" is not ALGORITHM=hex (MD5, SHA1, SHA256, IMPHASH)`);
    requireFilled(field, `Hashes ${algo.toUpperCase()}`, ctx);
    return { [field]: { equals: hex.toLowerCase(), case_sensitive: false } };
  });
  return { any: alts };
}

/** One `Field|mod|mod: value(s)` as a matcher node. */
function fieldNode(key: string, value: unknown, ctx: Ctx): unknown {
  const [name = '', ...mods] = key.split('|');
  if (name === '') throw new SigmaUnsupported('keyword (field-less) detection items: the agent matches fields, not raw log text');
  const values = (Array.isArray(value) ? value.flat(3) : [value]) as unknown[];
  if (name === 'Hashes') {
    if (mods.some((m) => m !== 'contains' && m !== 'endswith' && m !== 'startswith')) throw new SigmaUnsupported(`modifiers ${mods.join('|')} on Hashes`);
    return hashes(values, ctx);
  }
  const field = mapField(name, ctx);
  const ecs = field.ecs;
  let op = 'equals';
  let all = false;
  let cased = false;
  let enc: Encoding | undefined;
  const reMods: string[] = [];
  const transforms: ((v: string) => string[])[] = [];
  for (const m of mods) {
    if (m === 'all') all = true;
    else if (m === 'cased') cased = true;
    else if (STRING_OPS.has(m)) op = m;
    else if (m === 're' || m === 'cidr' || m === 'exists' || m === 'fieldref') op = m;
    else if (op === 're' && ['i', 'm', 's', 'ignorecase', 'multiline', 'dotall'].includes(m)) reMods.push(m);
    else if (m in ENCODINGS) enc = ENCODINGS[m];
    else if (m === 'windash') transforms.push(windash);
    else if (m === 'base64') transforms.push((v) => [encode(v, enc ?? 'utf8').toString('base64')]);
    else if (m === 'base64offset') transforms.push((v) => base64offset(encode(v, enc ?? 'utf8')));
    else throw new SigmaUnsupported(`modifier "${m}"`);
  }
  if (op === 'exists') {
    if (typeof values[0] !== 'boolean' || values.length !== 1) ctx.fail(key, 'expected true or false');
    return { [ecs]: { exists: values[0] } };
  }
  if (op === 'fieldref') {
    const other = values.map((v) => mapField(String(v), ctx).ecs);
    return { all: other.map((o) => ({ [ecs]: { same_as: o } })) };
  }
  const alts: unknown[] = [];
  const groups: Values[] = [];
  if (values.some((v) => v === null)) alts.push({ [ecs]: { exists: false } });
  for (const raw of values) {
    if (raw === null) continue;
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') return ctx.fail(key, `expected a string, number or boolean, got ${JSON.stringify(raw)}`);
    let v = String(raw);
    if (field.value !== undefined) {
      const t = field.value(v);
      if (t === undefined) throw new SigmaUnsupported(`value "${v}" of ${name}`);
      v = t;
    }
    groups.push(values1(op, v, transforms, reMods, cased));
  }
  // Without |all, the values of one field are one matcher (a set lookup or one pass over the list).
  if (all) alts.push({ all: groups.map((g) => node(ecs, op, g, cased)) });
  else if (groups.length > 0) alts.push(node(ecs, op, { plain: groups.flatMap((g) => g.plain), regexes: groups.flatMap((g) => g.regexes) }, cased));
  return alts.length === 1 ? alts[0] : { any: alts };
}

/** One Sigma value as plain strings for the operator and regex literals (wildcards, re, cidr networks). */
interface Values { plain: string[]; regexes: string[] }

function values1(op: string, v: string, transforms: ((v: string) => string[])[], reMods: string[], cased: boolean): Values {
  if (op === 're') {
    const { source, flags } = sigmaRegex(v, reMods);
    return { plain: [], regexes: [`/${source}/${flags}`] };
  }
  if (op === 'cidr') return { plain: [v], regexes: [] };
  let vals = [v];
  for (const t of transforms) vals = vals.flatMap(t);
  const out: Values = { plain: [], regexes: [] };
  for (const x of vals) {
    const s = sigmaString(x);
    if (s.parts === undefined) out.plain.push(s.text);
    else out.regexes.push(`/${wildcardSource(s.parts, op)}/${cased ? '' : 'i'}`);
  }
  return out;
}

function node(ecs: string, op: string, v: Values, cased: boolean): unknown {
  const nodes: unknown[] = [];
  if (v.plain.length > 0) nodes.push({ [ecs]: op === 'cidr' ? { cidr: v.plain } : { [op]: v.plain, case_sensitive: cased } });
  if (v.regexes.length > 0) nodes.push({ [ecs]: { re: v.regexes } });
  return nodes.length === 1 ? nodes[0] : { any: nodes };
}

/** Keyword items (a selection that is a string or a list of strings): any text field holds one. */
function keywords(values: unknown[], ctx: Ctx): unknown {
  const fields = KEYWORD_FIELDS[ctx.category].filter((f) => ctx.os.some((os) => FILLED[os].has(f === 'qualified.user.name' ? 'user.name' : f)));
  const groups = values.map((v) => values1('contains', String(v), [], [], false));
  const all: Values = { plain: groups.flatMap((g) => g.plain), regexes: groups.flatMap((g) => g.regexes) };
  return { any: fields.map((f) => node(f, 'contains', all, false)) };
}

const isKeyword = (m: unknown): m is string | number => typeof m === 'string' || typeof m === 'number';

function selection(name: string, body: unknown, ctx: Ctx): unknown {
  if (isKeyword(body)) return keywords([body], ctx);
  const one = (m: unknown, i?: number): unknown => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return ctx.fail(`detection.${name}${i === undefined ? '' : `[${i}]`}`, 'expected a mapping of Field|modifier: value');
    const parts = Object.entries(m as Record<string, unknown>).map(([k, v]) => fieldNode(k, v, { ...ctx, fail: (key, exp) => ctx.fail(`detection.${name}.${key}`, exp) }));
    if (parts.length === 0) ctx.fail(`detection.${name}`, 'empty selection');
    return parts.length === 1 ? parts[0] : { all: parts };
  };
  if (!Array.isArray(body)) return one(body);
  // Keywords and mappings may share a list: the keywords are one alternative, each mapping another.
  const list = body as unknown[];
  const words = list.filter(isKeyword);
  const alts: unknown[] = words.length > 0 ? [keywords(words, ctx)] : [];
  list.forEach((m, i) => { if (!isKeyword(m)) alts.push(one(m, i)); });
  return alts.length === 1 ? alts[0] : { any: alts };
}

/** Parses `selection and not 1 of filter_*` into the any/all/not tree over the named selections. */
function condition(text: string, sels: Record<string, unknown>, fail: Fail): unknown {
  if (text.includes('|')) throw new SigmaUnsupported('aggregations in the condition (| count() ...): the agent matches single events');
  const toks = text.replace(/\(/g, ' ( ').replace(/\)/g, ' ) ').trim().split(/\s+/);
  let i = 0;
  const peek = () => toks[i];
  const pick = (pattern: string): unknown[] => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const names = pattern === 'them' ? Object.keys(sels).filter((n) => !n.startsWith('_')) : Object.keys(sels).filter((n) => re.test(n));
    if (names.length === 0) fail('detection.condition', `"${pattern}" names no selection`);
    return names.map((n) => sels[n]);
  };
  const primary = (): unknown => {
    const t = toks[i++];
    if (t === undefined) return fail('detection.condition', 'unexpected end of condition');
    if (t === '(') {
      const e = or();
      if (toks[i++] !== ')') fail('detection.condition', 'missing )');
      return e;
    }
    if (t === 'not') return { not: primary() };
    if (/^\d+$/.test(t) || t === 'all' || t === 'any') {
      if (toks[i++] !== 'of') fail('detection.condition', `expected "of" after "${t}"`);
      if (/^\d+$/.test(t) && t !== '1') throw new SigmaUnsupported(`"${t} of" (only "1 of" and "all of")`);
      const list = pick(toks[i++] ?? '');
      return t === 'all' ? { all: list } : { any: list };
    }
    if (t === 'near') throw new SigmaUnsupported('"near" (temporal conditions)');
    if (!(t in sels)) fail('detection.condition', `unknown selection "${t}"`);
    return sels[t];
  };
  const and = (): unknown => {
    const parts = [primary()];
    while (peek() === 'and') { i++; parts.push(primary()); }
    return parts.length === 1 ? parts[0] : { all: parts };
  };
  const or = (): unknown => {
    const parts = [and()];
    while (peek() === 'or') { i++; parts.push(and()); }
    return parts.length === 1 ? parts[0] : { any: parts };
  };
  const tree = or();
  if (i !== toks.length) fail('detection.condition', `unexpected "${toks[i] ?? ''}"`);
  return tree;
}

function threatTags(tags: string[]): { tactics: string[]; techniques: string[] } {
  const techniques = [...new Set(tags.map((t) => /^attack\.(t\d{4}(\.\d{3})?)$/i.exec(t)?.[1]?.toUpperCase()).filter((t): t is string => t !== undefined))];
  const tactics = [...new Set(tags.map((t) => TACTIC_TAGS[t.toLowerCase().replace(/^attack\./, '').replace(/-/g, '_')]).filter((t): t is string => t !== undefined))];
  return { tactics, techniques };
}

/**
 * Translates and validates one Sigma rule. Throws UnsupportedRuleError for valid Sigma the agent
 * cannot run and ConfigError for a malformed rule, both naming the file, the rule and the key.
 */
export function sigmaSource(doc: Record<string, unknown>, file: string, index: number, license?: string): RuleSource | undefined {
  const id = typeof doc.id === 'string' ? doc.id : typeof doc.title === 'string' ? doc.title : `#${index}`;
  const where = `sigma rule ${id}`;
  const fail: Fail = (key, expected) => { throw new ConfigError(file, `${where}: ${key}`, expected); };
  try {
    return translate(doc, id, file, index, license, fail);
  } catch (err) {
    if (err instanceof SigmaUnsupported) throw new UnsupportedRuleError(file, where, err.message);
    throw err;
  }
}

function translate(doc: Record<string, unknown>, id: string, file: string, index: number, license: string | undefined, fail: Fail): RuleSource | undefined {
  const logsource = (doc.logsource ?? {}) as Record<string, unknown>;
  const category = logsource.category;
  if (!SIGMA_CATEGORIES.includes(category as SigmaCategory)) {
    throw new SigmaUnsupported(`log source ${JSON.stringify(category ?? logsource.service ?? null)} (supported categories: ${SIGMA_CATEGORIES.join(', ')})`);
  }
  const os = productOs(logsource.product);
  if (os === undefined) throw new SigmaUnsupported(`log source product ${JSON.stringify(logsource.product)} (supported: windows, linux, macos)`);
  if (logsource.service !== undefined) throw new SigmaUnsupported(`log source service ${JSON.stringify(logsource.service)}`);
  const detection = doc.detection as Record<string, unknown> | null;
  if (detection === null || typeof detection !== 'object') return fail('detection', 'expected a mapping');
  const ctx: Ctx = { category: category as SigmaCategory, os, fail };
  const sels: Record<string, unknown> = {};
  for (const [name, body] of Object.entries(detection)) if (name !== 'condition' && name !== 'timeframe') sels[name] = selection(name, body, ctx);
  const cond = Array.isArray(detection.condition) ? detection.condition.map((c) => `(${String(c)})`).join(' or ') : detection.condition;
  if (typeof cond !== 'string') return fail('detection.condition', 'expected a condition string');
  const tags = Array.isArray(doc.tags) ? doc.tags.map(String) : [];
  const { tactics, techniques } = threatTags(tags);
  const authors = typeof doc.author === 'string' ? doc.author.split(/\s*,\s*/).filter((a) => a !== '') : [];
  const rule = {
    id: /^[A-Za-z0-9_.:-]+$/.test(id) ? id : `sigma-${index}`,
    name: typeof doc.title === 'string' ? doc.title : id,
    description: typeof doc.description === 'string' ? doc.description.trim() : '',
    applies_to: category === 'network_connection' ? 'connection' : 'process',
    os: logsource.product === undefined ? [] : os,
    severity: (typeof doc.level === 'string' ? LEVELS[doc.level] : undefined) ?? 'medium',
    tactic: tactics[0] ?? 'TA0002',
    technique: techniques[0] ?? 'T1059',
    ...(tactics.length > 1 ? { tactics: tactics.slice(1) } : {}),
    ...(techniques.length > 1 ? { techniques: techniques.slice(1) } : {}),
    references: Array.isArray(doc.references) ? doc.references.map(String) : [],
    ...(authors.length > 0 ? { author: authors } : {}),
    ...(typeof doc.license === 'string' ? { license: doc.license } : license === undefined ? {} : { license }),
    when: condition(cond, sels, fail),
  };
  return validateRule(rule, file, index, 'sigma', typeof doc.date === 'string' ? doc.date : '1');
}
