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
import { parseCefHeader, parseCefExtension, parseLeef, shownControls } from '../../../../testkit/siem-parsers.js';

const ctx: EncodeContext = { facility: 16, appName: 'portwarden', sdId: 'x@1', procId: 4242, hostName: 'fb' };
// eslint-disable-next-line no-control-regex -- asserting their absence
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

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
