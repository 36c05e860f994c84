// Round trips through parsers written from the specifications (ArcSight CEF "Implementing
// ArcSight CEF", IBM QRadar LEEF 2.0), not from our encoders: what a SIEM reads back must be what
// the agent saw, with control characters shown as text and never sent raw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeCef, escapeCefHeader, escapeCefValue } from '../../../../transports/syslog/encoder-cef.js';
import { encodeLeef, escapeLeefHeader, escapeLeefValue } from '../../../../transports/syslog/encoder-leef.js';
import type { EncodeContext } from '../../../../transports/syslog/encoder-common.js';
import { listenerEvent } from '../../../../testkit/samples/syslog.js';

const ctx: EncodeContext = { facility: 16, appName: 'portwarden', sdId: 'x@1', procId: 4242, hostName: 'fb' };
// eslint-disable-next-line no-control-regex -- asserting their absence
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** CEF (7 fields) and LEEF (6) headers: fields split on unescaped `|`; `\|` and `\\` are the only escapes. */
function parseCefHeader(s: string, count = 7): { fields: string[]; rest: string } {
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
function parseCefExtension(s: string): Map<string, string> {
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
function parseLeef(body: string): { header: string[]; attrs: Map<string, string> } {
  const { fields, rest } = parseCefHeader(body, 6);
  const attrs = new Map<string, string>();
  for (const kv of rest.split('\t')) {
    const eq = kv.indexOf('=');
    attrs.set(kv.slice(0, eq), kv.slice(eq + 1).replace(/\\([\\trn])/g, (_m, c: string) => ({ t: '\t', r: '\r', n: '\n' })[c] ?? c));
  }
  return { header: fields.slice(0, 6), attrs };
}

/** What a control character becomes after the round trip: its visible text. */
function shownControls(v: string, keep: string): string {
  // eslint-disable-next-line no-control-regex -- the characters under test
  return v.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => (keep.includes(ch) ? ch
    : ({ '\t': '\\t', '\n': '\\n', '\r': '\\r' } as Record<string, string>)[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

const hostile = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '=', '|', '\\', '\t', '\r', '\n', '\x1b', '\x07', '\x00', '\x7f', '\u0085', '\u009b', 'é', '😀', 'n', 'r', 't', 'x') });

test('CEF round trip: header and extension values come back exactly; controls as text, CR/LF in values exactly', () => {
  fc.assert(fc.property(hostile, hostile, (name, cmd) => {
    const line = encodeCef(ctx, listenerEvent({ name, commandLine: cmd }));
    assert.ok(!RAW_CONTROL.test(line), JSON.stringify(line));
    const body = line.slice(line.indexOf('CEF:'));
    const { fields, rest } = parseCefHeader(body);
    assert.equal(fields.length, 7);
    const ext = parseCefExtension(rest);
    assert.equal(ext.get('cs3'), shownControls(cmd, '\r\n'));
    assert.equal(ext.get('dproc'), shownControls(name, '\r\n'));
    assert.equal(parseCefHeader(`${escapeCefHeader(name)}|`).fields[0], shownControls(name, ''));
    assert.equal(parseCefExtension(`k=${escapeCefValue(cmd)}`).get('k'), shownControls(cmd, '\r\n'));
  }), { numRuns: 300 });
});

test('LEEF 2.0 round trip: the backslash and the TAB delimiter escaped, values come back exactly', () => {
  fc.assert(fc.property(hostile, hostile, (name, cmd) => {
    const line = encodeLeef(ctx, listenerEvent({ name, commandLine: cmd }));
    const body = line.slice(line.indexOf('LEEF:'));
    // The delimiter is the only raw control character on the wire.
    assert.ok(!RAW_CONTROL.test(body.replace(/\t/g, '')), JSON.stringify(line));
    const { header, attrs } = parseLeef(body);
    assert.equal(header[0], 'LEEF:2.0');
    assert.equal(header[5], 'x09');
    assert.equal(attrs.get('commandLine'), shownControls(cmd, '\t\r\n'));
    assert.equal(attrs.get('process'), shownControls(name, '\t\r\n'));
    assert.equal(parseCefHeader(`${escapeLeefHeader(name)}|`).fields[0], shownControls(name, ''));
    assert.equal(parseLeef(`LEEF:2.0|a|b|c|d|x09|k=${escapeLeefValue(cmd)}`).attrs.get('k'), shownControls(cmd, '\t\r\n'));
  }), { numRuns: 300 });
});

test('the examples the docs give', () => {
  assert.equal(escapeCefValue('a=b\\c\r\nd\x1b[2J'), 'a\\=b\\\\c\\r\\nd\\\\x1b[2J');
  assert.equal(escapeCefHeader('x|y\nz'), 'x\\|y\\\\nz');
  assert.equal(escapeLeefValue('C:\\tmp\tx\r\n\x07'), 'C:\\\\tmp\\tx\\r\\n\\\\x07');
});
