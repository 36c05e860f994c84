import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHuman } from '../../../../transports/stdout/human.js';
import { sampleDocuments } from '../../../../agent/ecs/samples.js';

test('one readable line per event: time, action, proto, addr:port, scope, process <- ancestors', () => {
  const [started, link] = sampleDocuments();
  assert.ok(started && link);
  assert.equal(formatHuman(started), '11:00:01.000 listening_started  tcp 0.0.0.0:4444                 any       python3[4243] <- sh[4242] <- nginx[812] <- systemd[1]');
  assert.match(formatHuman(link), /udp \[fe80::1\]:5353/);
});
