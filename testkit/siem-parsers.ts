// Parsers written from the specifications (ArcSight "Implementing ArcSight CEF", IBM QRadar LEEF
// 2.0), not from portwarden's encoders: the round-trip tests read back with them what a SIEM would.

/** CEF (7 fields) and LEEF (6) headers: fields split on unescaped `|`; `\|` and `\\` are the only escapes. */
export function parseCefHeader(s: string, count = 7): { fields: string[]; rest: string } {
  const fields: string[] = [];
  let cur = '';
  let i = 0;
  while (fields.length < count && i < s.length) {
    const ch = s[i] ?? '';
    if (ch === '\\' && (s[i + 1] === '|' || s[i + 1] === '\\')) { cur += s[i + 1] ?? ''; i += 2; continue; }
    if (ch === '|') { fields.push(cur); cur = ''; i++; continue; }
    cur += ch;
    i++;
  }
  return { fields, rest: s.slice(i) };
}

/** CEF extension: `key=value` pairs; a value ends where ` key=` (unescaped `=`) starts; `\\ \= \n \r` unescaped. */
export function parseCefExtension(s: string): Map<string, string> {
  const out = new Map<string, string>();
  const keyAt = /(?:^| )([A-Za-z0-9_]+)=/g;
  const starts: { key: string; at: number; valueAt: number }[] = [];
  for (let m = keyAt.exec(s); m !== null; m = keyAt.exec(s)) {
    // An `=` preceded by an odd number of backslashes is escaped, not a key.
    let back = 0;
    for (let j = m.index + m[0].length - 2; j >= 0 && s[j] === '\\'; j--) back++;
    if (back % 2 === 1) continue;
    const key = m[1] ?? '';
    let slashes = 0;
    for (let j = m.index - 1; j >= 0 && s[j] === '\\'; j--) slashes++;
    if (slashes % 2 === 1) continue;
    starts.push({ key, at: m.index, valueAt: m.index + m[0].length });
  }
  starts.forEach((st, i) => {
    const end = starts[i + 1]?.at ?? s.length;
    out.set(st.key, s.slice(st.valueAt, end).replace(/\\([\\=nr])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c)));
  });
  return out;
}

/** LEEF 2.0 attributes: split on the declared delimiter (TAB); `\\`, `\t`, `\r`, `\n` unescaped. */
export function parseLeef(body: string): { header: string[]; attrs: Map<string, string> } {
  const { fields, rest } = parseCefHeader(body, 6);
  const attrs = new Map<string, string>();
  for (const kv of rest.split('\t')) {
    const eq = kv.indexOf('=');
    attrs.set(kv.slice(0, eq), kv.slice(eq + 1).replace(/\\([\\trn])/g, (_m, c: string) => ({ t: '\t', r: '\r', n: '\n' })[c] ?? c));
  }
  return { header: fields.slice(0, 6), attrs };
}

/** What a control character becomes after the round trip: its visible text. */
export function shownControls(v: string, keep: string): string {
  // eslint-disable-next-line no-control-regex -- the characters under test
  return v.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => (keep.includes(ch) ? ch
    : ({ '\t': '\\t', '\n': '\\n', '\r': '\\r' } as Record<string, string>)[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
