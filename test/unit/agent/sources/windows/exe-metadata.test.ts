import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { exeMetadataScript, parseExeMetadataJson, signatureFrom, subjectCommonName } from '../../../../../agent/sources/windows/exe-metadata.js';
import { fixture } from '../../../../../testkit/paths.js';

test('signature and PE name rows: valid, quoted CN, unsigned; paths compared case-insensitively', () => {
  const m = parseExeMetadataJson(readFileSync(fixture('windows', 'ps-exe-metadata.json'), 'utf8'));
  assert.deepEqual(m.get('c:\\program files\\nodejs\\node.exe'),
    { originalFileName: 'node.exe', codeSignature: { exists: true, trusted: true, subjectName: 'OpenJS Foundation' } });
  assert.deepEqual(m.get('c:\\users\\alice\\appdata\\local\\temp\\x.exe'), { codeSignature: { exists: false } });
  assert.equal(parseExeMetadataJson('{"Path":"C:\\\\a.exe","Status":"HashMismatch","Subject":"CN=Evil"}').get('c:\\a.exe')?.codeSignature?.trusted, false,
    'a single object (not an array) and a tampered file');
});

test('subject common names and status mapping', () => {
  assert.equal(subjectCommonName('CN=Microsoft Windows, O=Microsoft Corporation'), 'Microsoft Windows');
  assert.equal(subjectCommonName('O=No CN'), undefined);
  assert.equal(subjectCommonName('CN="Acme, Inc.", O=Acme'), 'Acme, Inc.');
  assert.equal(signatureFrom(undefined, undefined), undefined);
  assert.deepEqual(signatureFrom('NotTrusted', 'CN=Self'), { exists: true, trusted: false, subjectName: 'Self' });
});

test('paths chosen by a process never reach the script as text', () => {
  const evil = "C:\\x'; Remove-Item C:\\ -Recurse; '.exe";
  const s = exeMetadataScript([evil]);
  assert.ok(!s.includes('Remove-Item C:'), 'only base64 of the path is in the script');
  const b64 = /FromBase64String\('([A-Za-z0-9+/=]+)'\)/.exec(s)?.[1];
  assert.deepEqual(JSON.parse(Buffer.from(b64!, 'base64').toString('utf8')), [evil]);
});
