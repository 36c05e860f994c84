import { test } from 'node:test';
import assert from 'node:assert/strict';
import { visible, visibleLines } from '../../../../agent/util/terminal-text.js';

test('visible escapes C0, DEL, C1, bidi overrides and lone surrogates; keeps printable text', () => {
  assert.equal(visible('\x1b]0;owned\x07\x1b[2J'), '\\x1b]0;owned\\x07\\x1b[2J');
  assert.equal(visible('a\tb\nc\rd\x00\x7f'), 'a\\tb\\nc\\rd\\x00\\x7f');
  assert.equal(visible('csi\u009b31m nel\u0085'), 'csi\\x9b31m nel\\x85');
  assert.equal(visible('evil\u202egnp.exe'), 'evil\\u202egnp.exe');
  assert.equal(visible('half\ud800'), 'half\\ud800');
  assert.equal(visible('nginx: worker – ünïcode 😀'), 'nginx: worker – ünïcode 😀');
});

test('visibleLines keeps the line breaks of multi-line text and escapes the rest', () => {
  assert.equal(visibleLines('one\x1b[2J\ntwo\r'), 'one\\x1b[2J\ntwo\\r');
});
