import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envValue, interpolate, EMBEDDED } from '../../../config/loader.js';
import { loadConfig, parseConfig } from '../../../agent/app/config.js';
import { ConfigError } from '../../../agent/util/errors.js';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('embedded default watches every second and prints to stdout', () => {
  const { config, file, outputNames } = loadConfig(undefined);
  assert.equal(file, EMBEDDED);
  assert.equal(config.interval, 1000);
  assert.deepEqual(outputNames, ['stdout']);
  assert.equal(config.events.process, false);
  assert.equal(config.inventory.schedule, '0 * * * *');
});

test('config errors name the file, the key path and what was expected', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ interval: 'soon' }, 'interval', /duration/],
    [{ outputs: [{ type: 'stdout' }, { type: 'carrier-pigeon' }] }, 'outputs[1].type', /"file"/],
    [{ outputs: [{ type: 'file', path: '/tmp/x', colour: 'red' }] }, 'outputs[0]', /unknown key "colour"/],
    [{ spool: { when_full: 'explode' } }, 'spool.when_full', /block/],
    [{ intervl: '1s' }, '', /unknown key "intervl"/],
  ];
  for (const [raw, path, expected] of cases) {
    const err = errorOf(() => parseConfig(raw, 'agent.yaml'));
    assert.equal(err.file, 'agent.yaml');
    assert.equal(err.keyPath, path, JSON.stringify(raw));
    assert.match(err.message, expected);
  }
});

test('repeated outputs get distinct names; duplicates are refused', () => {
  const ok = parseConfig({ outputs: [{ type: 'file', path: 'a' }, { type: 'file', path: 'b' }] }, 'c.yaml');
  assert.deepEqual(ok.outputNames, ['file', 'file-2']);
  const err = errorOf(() => parseConfig({ outputs: [{ type: 'file', path: 'a', name: 'x' }, { type: 'stdout', name: 'x' }] }, 'c.yaml'));
  assert.equal(err.keyPath, 'outputs[1].name');
});

test('${ENV} interpolation, defaults, escapes and a missing variable', () => {
  const env = { TOKEN: 's3cret' };
  assert.deepEqual(interpolate({ a: ['x-${TOKEN}', '${NOPE:-dflt}', '$${TOKEN}'] }, env, 'f'), { a: ['x-s3cret', 'dflt', '${TOKEN}'] });
  const err = errorOf(() => interpolate({ outputs: [{ token: '${MISSING}' }] }, env, 'f.yaml'));
  assert.equal(err.keyPath, 'outputs[0].token');
  assert.match(err.message, /MISSING is not set/);
});

test('a missing file and invalid YAML are config errors naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cfg-'));
  const missing = join(dir, 'nope.yaml');
  assert.match(errorOf(() => loadConfig(missing)).message, /nope\.yaml: \(top level\): cannot read/);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'interval: [1s\n');
  assert.match(errorOf(() => loadConfig(bad)).message, /bad\.yaml.*not valid YAML/);
  const list = join(dir, 'list.yaml');
  writeFileSync(list, '- 1\n- 2\n');
  assert.match(errorOf(() => loadConfig(list)).message, /mapping/);
});

test('${VAR} ignores case on Windows only, as its environment does (the worker gets a plain copy)', () => {
  const env = { ProgramData: 'C:\\ProgramData', token: 'x' };
  assert.equal(envValue(env, 'PROGRAMDATA', 'win32'), 'C:\\ProgramData');
  assert.equal(envValue(env, 'ProgramData', 'win32'), 'C:\\ProgramData');
  assert.equal(envValue(env, 'PROGRAMDATA', 'linux'), undefined);
  assert.equal(envValue(env, 'TOKEN', 'linux'), undefined);
  assert.equal(envValue(env, 'NOPE', 'win32'), undefined);
});
