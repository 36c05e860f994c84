import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../testkit/paths.js';
import { checkConfigText } from './config-check.js';
import { kibanaRules } from './content.js';

const doc = (): string => readFileSync(join(repoRoot, 'docs', 'deploying.md'), 'utf8');

test('every config example in docs/deploying.md passes check-config', (t) => {
  const blocks = [...doc().matchAll(/<!-- check-config -->\n```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  assert.ok(blocks.length >= 3, `found ${blocks.length} checked examples`);
  const env = { ES_API_KEY: 'aWQ6a2V5', SPLUNK_HEC_TOKEN: '00000000-0000-0000-0000-000000000000', KAFKA_PASSWORD: 'secret' };
  for (const [i, text] of blocks.entries()) {
    const r = checkConfigText(text, env);
    if (r.note !== undefined) t.diagnostic(`example ${i + 1}: ${r.note}`);
    assert.equal(r.status, 0, `example ${i + 1}:\n${text}\n${r.stdout}${r.stderr}`);
  }
});

test('a broken example would be caught (the check above can fail)', () => {
  const r = checkConfigText('outputs:\n  - type: http\n    format: splunk_hec\n    url: https://x:8088\n', {});
  assert.equal(r.status, 2);
  assert.match(r.stderr, /token/);
});

test('every deploy/ path the page names exists, and the rule table lists every shipped rule', () => {
  const text = doc();
  const paths = [...new Set([...text.matchAll(/(?<![\w/])deploy\/[\w./@-]*[\w@]/g)].map((m) => m[0]))];
  assert.ok(paths.length > 10);
  for (const p of paths) assert.ok(existsSync(join(repoRoot, p)), `docs/deploying.md names ${p}, which does not exist`);
  for (const r of kibanaRules()) {
    const short = r.name.replace(/^portwarden: /, '').replace(/^Unusual Parent-Child Followed by a Listener from /, '');
    assert.ok(text.includes(short), `rule "${r.name}" is not described`);
  }
});
