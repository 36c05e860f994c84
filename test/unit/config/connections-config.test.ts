// events.connections and source.connections: defaults, errors that name the key, and what a reload can change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../agent/app/config.js';
import { planReload } from '../../../agent/app/reload-plan.js';
import { ConfigError } from '../../../agent/util/errors.js';

const load = (over: Record<string, unknown> = {}) => parseConfig({ outputs: [{ type: 'stdout' }], ...over }, 'agent.yaml');

test('connections default to alerts (detection only), loopback skipped, a 60 s dedupe window', () => {
  const { config } = load();
  assert.equal(config.events.connections, 'alerts');
  assert.deepEqual(config.source.connections, { loopback: false, dedupe_window: 60_000 });
  assert.deepEqual(load({ source: { connections: { loopback: true, dedupe_window: '0s' } } }).config.source.connections, { loopback: true, dedupe_window: 0 });
});

test('bad connection settings are config errors naming the file, the key path and what was expected', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ events: { connections: 'some' } }, 'events.connections', /"off".*"alerts".*"all"/],
    [{ source: { connections: { dedupe_window: 'soon' } } }, 'source.connections.dedupe_window', /duration/],
    [{ source: { connections: { loopback: 'yes' } } }, 'source.connections.loopback', /boolean/],
    [{ source: { connections: { udp: true } } }, 'source.connections', /unknown key "udp"/],
  ];
  for (const [raw, path, expected] of cases) {
    let err: unknown;
    try {
      load(raw);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, JSON.stringify(raw));
    assert.equal(err.file, 'agent.yaml');
    assert.equal(err.keyPath, path, JSON.stringify(raw));
    assert.match(err.message, expected);
  }
});

test('a reload switches alerts <-> all in place; to or from off waits for a restart (the kernel program is attached at start)', () => {
  const alerts = load();
  const all = load({ events: { connections: 'all' } });
  const off = load({ events: { connections: 'off' } });
  assert.deepEqual(planReload(alerts, all, 'd', 'd').restartRequired, []);
  assert.equal(planReload(alerts, all, 'd', 'd').events, true);
  assert.deepEqual(planReload(alerts, off, 'd', 'd').restartRequired, ['events.connections']);
  assert.deepEqual(planReload(off, all, 'd', 'd').restartRequired, ['events.connections']);
});
