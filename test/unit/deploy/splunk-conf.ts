/**
 * A strict reader for Splunk .conf files: `[stanza]` headers, `key = value` lines, `#` comments,
 * backslash line continuations. Anything else (a key outside a stanza, a duplicate key, a line
 * without `=`) is reported, as btool would flag or silently mishandle it.
 */
export interface ConfFile {
  stanzas: Map<string, Map<string, string>>;
  problems: string[];
}

export function parseConf(text: string, file: string): ConfFile {
  const stanzas = new Map<string, Map<string, string>>();
  const problems: string[] = [];
  let current: Map<string, string> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    const at = `${file}:${i + 1}`;
    while (line.endsWith('\\') && !line.endsWith('\\\\') && i + 1 < lines.length) line = line.slice(0, -1) + (lines[++i] ?? '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const header = /^\[(.*)\]$/.exec(trimmed);
    if (header !== null) {
      const name = header[1] ?? '';
      if (stanzas.has(name)) problems.push(`${at}: stanza [${name}] appears twice`);
      current = new Map();
      stanzas.set(name, current);
      continue;
    }
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      problems.push(`${at}: expected "key = value", got ${JSON.stringify(trimmed)}`);
      continue;
    }
    if (current === undefined) {
      problems.push(`${at}: key outside any stanza`);
      continue;
    }
    const key = trimmed.slice(0, eq).trim();
    const value = trimmed.slice(eq + 1).trim();
    if (current.has(key)) problems.push(`${at}: key ${key} repeated in its stanza (the last one silently wins)`);
    if (value === '') problems.push(`${at}: ${key} has an empty value`);
    current.set(key, value);
  }
  return { stanzas, problems };
}

/** `"a.b" AS c "d" AS e` -> [[a.b, c], [d, e]]; throws on anything it cannot read. */
export function fieldAliasPairs(value: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /\s*("([^"]+)"|(\S+))\s+AS(?:NEW)?\s+("([^"]+)"|(\S+))\s*/giy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(value)) !== null) {
    out.push([m[2] ?? m[3] ?? '', m[5] ?? m[6] ?? '']);
    end = re.lastIndex;
  }
  if (end !== value.length || out.length === 0) throw new Error(`cannot read FIELDALIAS value: ${value}`);
  return out;
}
