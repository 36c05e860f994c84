// Fuzzing the config loader and the rule loader: any text as a config file (random, mutations of the
// shipped example and deploy configs, generated YAML of any shape with aliases) and as a rule file.
// The only error allowed is ConfigError (exit 2 naming the file and key); a TypeError, a RangeError
// (stack) or a hang is a crash.
import { test } from 'node:test';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../../agent/app/config.js';
import { parseRuleText } from '../../../agent/detect/load.js';
import { parseConfigText } from '../../../config/loader.js';
import { ConfigError } from '../../../agent/util/errors.js';
import { repoRoot } from '../../../testkit/paths.js';
import { fuzz, text } from './support.js';
import { readFileSync } from 'node:fs';

const configError = (err: unknown): boolean => err instanceof ConfigError;
const file = (...p: string[]): Buffer => readFileSync(join(repoRoot, ...p));

/** YAML of any shape: generated values, keys the schema knows, anchors and aliases. */
const keys = ['state_dir', 'interval', 'outputs', 'type', 'spool', 'max_bytes', 'detect', 'rules', 'when', 'id', 'log', 'file', 'batch', 'tls'];
const yamlish = fc.oneof(
  fc.jsonValue().map((v) => stringify(v)),
  fc.dictionary(fc.constantFrom(...keys), fc.jsonValue(), { maxKeys: 6 }).map((v) => stringify(v)),
  fc.tuple(fc.jsonValue(), fc.nat(8)).map(([v, n]) => `a: &x ${JSON.stringify(v)}\nb: [${Array.from({ length: n }, () => '*x').join(', ')}]\n`),
  fc.array(fc.constantFrom('- ', '  ', ': ', '&a ', '*a ', '[', ']', '{', '}', '? ', '---\n', '\n', '!!str ', '${X}', 'outputs', 'type', '"', "'", '|', '>', '#'), { maxLength: 40 }).map((a) => a.join('')),
);

test('fuzz the config loader (YAML, ${ENV} interpolation, schema): only ConfigError', () => {
  const seeds = [file('config', 'portwarden.example.yaml').subarray(0, 2500), file('deploy', 'docker', 'portwarden.yml')];
  const env = { X: 'x', HOME: '/root' };
  fuzz(fc.oneof(text(...seeds), yamlish), (t) => parseConfig(parseConfigText(t, 'fuzz.yaml', env), 'fuzz.yaml'), configError);
});

test('fuzz the rule loader (portwarden packs and Sigma rules): only ConfigError', () => {
  const dir = join(repoRoot, 'config', 'rules');
  const seeds = readdirSync(dir).filter((n) => n.endsWith('.yaml')).map((n) => readFileSync(join(dir, n)).subarray(0, 2500));
  fuzz(fc.oneof(text(...seeds), yamlish), (t) => parseRuleText(t, 'rules.yaml'), configError);
});
