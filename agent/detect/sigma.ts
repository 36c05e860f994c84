import { ConfigError } from '../util/errors.js';
import { isOsType, OS_TYPES_TEXT } from '../util/os.js';
import { validateRule } from './rule-schema.js';
import type { RuleSource } from './rules.js';

/**
 * The `process_creation` subset of Sigma, translated into portwarden's rule format. Fields are
 * mapped as pySigma's ECS Windows pipeline maps them; matching is case-insensitive as Sigma's is.
 * Supported: modifiers contains / startswith / endswith / all / re, wildcards * and ?, lists,
 * conditions with and / or / not / parentheses / `1 of x*` / `all of x*` / `them`.
 */
export const SIGMA_FIELDS: Readonly<Record<string, string>> = {
  Image: 'process.executable',
  ParentImage: 'process.parent.executable',
  CommandLine: 'process.command_line',
  ParentCommandLine: 'process.parent.command_line',
  OriginalFileName: 'process.pe.original_file_name',
  ProcessId: 'process.pid',
  ParentProcessId: 'process.parent.pid',
  ProcessGuid: 'process.entity_id',
  ParentProcessGuid: 'process.parent.entity_id',
  CurrentDirectory: 'process.working_directory',
  User: 'user.name',
  ParentUser: 'process.parent.user.name',
  Product: 'process.pe.product',
  Company: 'process.pe.company',
  Description: 'process.pe.description',
};

const TACTIC_TAGS: Readonly<Record<string, string>> = {
  initial_access: 'TA0001', execution: 'TA0002', persistence: 'TA0003', privilege_escalation: 'TA0004',
  defense_evasion: 'TA0005', credential_access: 'TA0006', discovery: 'TA0007', lateral_movement: 'TA0008',
  collection: 'TA0009', exfiltration: 'TA0010', command_and_control: 'TA0011', impact: 'TA0040',
  resource_development: 'TA0042', reconnaissance: 'TA0043',
};
const LEVELS: Readonly<Record<string, string>> = { informational: 'low', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };

type Fail = (key: string, expected: string) => never;

/** True for a parsed YAML document that looks like a Sigma rule. */
export function isSigma(doc: unknown): doc is Record<string, unknown> {
  return doc !== null && typeof doc === 'object' && 'detection' in doc && 'logsource' in doc;
}

function matcher(field: string, value: unknown, fail: Fail): [string, unknown] {
  const [name = '', ...mods] = field.split('|');
  const ecs = SIGMA_FIELDS[name];
  if (ecs === undefined) fail(field, `Sigma field ${name} is not available in process events (supported: ${Object.keys(SIGMA_FIELDS).join(', ')})`);
  const values = (Array.isArray(value) ? value : [value]) as unknown[];
  if (values.some((v) => v === null)) return [ecs, { exists: false }];
  const all = mods.includes('all');
  let op = 'equals';
  for (const m of mods) {
    if (m === 'all') continue;
    if (m === 'contains' || m === 'startswith' || m === 'endswith') op = m;
    else if (m === 're') op = 'regex';
    else fail(field, `unsupported Sigma modifier "${m}" (supported: contains, startswith, endswith, all, re)`);
  }
  const strs = values.map(String);
  if (op !== 'regex' && strs.some((s) => /[*?]/.test(s))) {
    // Sigma wildcards: turn the modifier into an equivalent glob.
    const globs = strs.map((s) => (op === 'contains' ? `*${s}*` : op === 'startswith' ? `${s}*` : op === 'endswith' ? `*${s}` : s));
    return [ecs, { glob: globs, case_sensitive: false, ...(all ? { all: true } : {}) }];
  }
  return [ecs, { [op]: strs, case_sensitive: false, ...(all ? { all: true } : {}) }];
}

function selection(name: string, body: unknown, fail: Fail): unknown {
  const one = (m: unknown, i?: number): Record<string, unknown> => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) fail(`detection.${name}${i === undefined ? '' : `[${i}]`}`, 'expected a mapping of Field|modifier: value');
    const out: Record<string, unknown> = {};
    const all: unknown[] = [];
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      const [f, cond] = matcher(k, v, (key, exp) => fail(`detection.${name}.${key}`, exp));
      // One ECS field may appear twice (Image|endswith and Image|contains): keep them apart.
      if (f in out) all.push({ [f]: cond });
      else out[f] = cond;
    }
    return all.length === 0 ? out : { all: [out, ...all] };
  };
  return Array.isArray(body) ? { any: body.map((m, i) => one(m, i)) } : one(body);
}

/** Parses `selection and not 1 of filter_*` into the any/all/not tree over the named selections. */
function condition(text: string, sels: Record<string, unknown>, fail: Fail): unknown {
  const toks = text.replace(/\(/g, ' ( ').replace(/\)/g, ' ) ').trim().split(/\s+/);
  let i = 0;
  const peek = () => toks[i];
  const pick = (pattern: string): unknown[] => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const names = pattern === 'them' ? Object.keys(sels) : Object.keys(sels).filter((n) => re.test(n));
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
    if (t === '1' || t === 'all') {
      if (toks[i++] !== 'of') fail('detection.condition', `expected "of" after "${t}"`);
      const list = pick(toks[i++] ?? '');
      return t === '1' ? { any: list } : { all: list };
    }
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

/** Translates and validates one Sigma rule; ConfigError names the file, the rule and the key. */
export function sigmaSource(doc: Record<string, unknown>, file: string, index: number): RuleSource | undefined {
  const id = typeof doc.id === 'string' ? doc.id : typeof doc.title === 'string' ? doc.title : `#${index}`;
  const fail: Fail = (key, expected) => { throw new ConfigError(file, `sigma rule ${id}: ${key}`, expected); };
  const logsource = (doc.logsource ?? {}) as Record<string, unknown>;
  if (logsource.category !== 'process_creation') fail('logsource.category', `only process_creation rules are supported, got ${JSON.stringify(logsource.category)}`);
  const product = logsource.product;
  if (product !== undefined && !isOsType(product)) fail('logsource.product', `expected ${OS_TYPES_TEXT}`);
  const detection = doc.detection as Record<string, unknown> | null;
  if (detection === null || typeof detection !== 'object') return fail('detection', 'expected a mapping');
  const sels: Record<string, unknown> = {};
  for (const [name, body] of Object.entries(detection)) if (name !== 'condition' && name !== 'timeframe') sels[name] = selection(name, body, fail);
  const cond = Array.isArray(detection.condition) ? detection.condition.map(String).join(' or ') : detection.condition;
  if (typeof cond !== 'string') return fail('detection.condition', 'expected a condition string');
  const tags = Array.isArray(doc.tags) ? doc.tags.map(String) : [];
  const technique = tags.map((t) => /^attack\.(t\d{4}(\.\d{3})?)$/i.exec(t)?.[1]?.toUpperCase()).find((t) => t !== undefined) ?? 'T1059';
  const tactic = tags.map((t) => TACTIC_TAGS[t.replace(/^attack\./, '').replace(/-/g, '_')]).find((t) => t !== undefined) ?? 'TA0002';
  const rule = {
    id: /^[A-Za-z0-9_.:-]+$/.test(id) ? id : `sigma-${index}`,
    name: typeof doc.title === 'string' ? doc.title : id,
    description: typeof doc.description === 'string' ? doc.description.trim() : '',
    os: product === undefined ? [] : [product],
    severity: (typeof doc.level === 'string' ? LEVELS[doc.level] : undefined) ?? 'medium',
    tactic,
    technique,
    references: Array.isArray(doc.references) ? doc.references.map(String) : [],
    when: condition(cond, sels, fail),
  };
  return validateRule(rule, file, index, 'sigma', typeof doc.date === 'string' ? doc.date : '1');
}
