import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { EcsDocument } from '../ecs/document.js';
import { getField } from '../ecs/document.js';
import { F } from '../ecs/fields.js';
import { ConfigError } from '../util/errors.js';
import type { AllowEntry } from './config.js';
import { globSource } from './matcher.js';

interface CompiledEntry {
  rules: Set<string>;
  ports: Set<number>;
  programs: RegExp[];
  parents: RegExp[];
  users: Set<string>;
  scopes: Set<string>;
  cidrs: BlockList | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function globs(list: string[]): RegExp[] {
  return list.map((g) => new RegExp(globSource(g), 'i'));
}

/** Paths are compared case-insensitively only on Windows; names are short and compared as written there too. */
function matchesProgram(res: RegExp[], name: string | undefined, exe: string | undefined, ci: boolean): boolean {
  return res.some((re) => {
    const r = ci ? re : new RegExp(re.source);
    return (name !== undefined && r.test(name)) || (exe !== undefined && r.test(exe));
  });
}

function cidrList(cidrs: string[], file: string, index: number): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const bl = new BlockList();
  cidrs.forEach((c, j) => {
    const [net = '', bits = ''] = c.split('/');
    const prefix = Number(bits);
    const type = isIPv4(net) ? 'ipv4' : isIPv6(net) ? 'ipv6' : undefined;
    if (type === undefined || !/^\d+$/.test(bits) || prefix > (type === 'ipv4' ? 32 : 128)) {
      throw new ConfigError(file, `detect.allowlist[${index}].cidrs[${j}]`, `expected a CIDR like 10.0.0.0/8 or fd00::/8, got "${c}"`);
    }
    bl.addSubnet(net, prefix, type);
  });
  return bl;
}

/** The admin's "this is fine here" list. An entry silences an alert when every key it sets matches. */
export class Allowlist {
  private readonly entries: CompiledEntry[];

  constructor(entries: readonly AllowEntry[], file: string) {
    this.entries = entries.map((e, i) => ({
      rules: new Set(e.rules),
      ports: new Set(e.ports),
      programs: globs(e.programs),
      parents: globs(e.parents),
      users: new Set(e.users.map((u) => u.toLowerCase())),
      scopes: new Set(e.scopes),
      cidrs: cidrList(e.cidrs, file, i),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** True when some entry covers this rule on this document. */
  allows(ruleId: string, doc: EcsDocument, ci: boolean): boolean {
    return this.entries.some((e) => this.covers(e, ruleId, doc, ci));
  }

  private covers(e: CompiledEntry, ruleId: string, doc: EcsDocument, ci: boolean): boolean {
    if (e.rules.size > 0 && !e.rules.has(ruleId)) return false;
    if (e.ports.size > 0) {
      const port = getField(doc, F.destinationPort);
      if (typeof port !== 'number' || !e.ports.has(port)) return false;
    }
    if (e.programs.length > 0 && !matchesProgram(e.programs, str(getField(doc, F.processName)), str(getField(doc, F.processExecutable)), ci)) return false;
    if (e.parents.length > 0
      && !matchesProgram(e.parents, str(getField(doc, F.processParentName)), str(getField(doc, F.processParentExecutable)), ci)) return false;
    if (e.users.size > 0) {
      const user = str(getField(doc, F.userName)) ?? str(getField(doc, F.processUserName));
      if (user === undefined || !e.users.has(user.toLowerCase())) return false;
    }
    if (e.scopes.size > 0) {
      const scope = str(getField(doc, F.listenerScope));
      if (scope === undefined || !e.scopes.has(scope)) return false;
    }
    if (e.cidrs !== undefined) {
      const ip = str(getField(doc, F.destinationIp));
      if (ip === undefined) return false;
      const type = isIPv4(ip) ? 'ipv4' : 'ipv6';
      if (!e.cidrs.check(ip, type)) return false;
    }
    return true;
  }
}
