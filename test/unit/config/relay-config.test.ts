// detect.relay.max_per_look: the default, and errors that name the file, the key path and what was expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../agent/app/config.js';
import { ConfigError } from '../../../agent/util/errors.js';

const load = (over: Record<string, unknown> = {}) => parseConfig({ outputs: [{ type: 'stdout' }], ...over }, 'agent.yaml');

test('the relay watch reads at most 64 candidate processes per look unless set', () => {
  assert.equal(load().config.detect.relay.max_per_look, 64);
  assert.equal(load({ detect: { relay: { max_per_look: 500 } } }).config.detect.relay.max_per_look, 500);
});

test('a bad detect.relay.max_per_look is a config error naming the file, the key path and what was expected', () => {
  for (const [value, expected] of [[0, /greater than or equal to 1|>=\s*1/], [2.5, /expected int/], ['many', /number/]] as const) {
    let err: unknown;
    try {
      load({ detect: { relay: { max_per_look: value } } });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, String(value));
    assert.equal(err.file, 'agent.yaml');
    assert.equal(err.keyPath, 'detect.relay.max_per_look');
    assert.match(err.message, expected);
  }
});
