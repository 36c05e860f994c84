// The composition root builds each configured output from the one transport registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../../../../agent/log/logger.js';
import { ConfigError } from '../../../../agent/util/errors.js';
import { parseConfig } from '../../../../agent/app/config.js';
import type { LoadedConfig } from '../../../../agent/app/config.js';
import { createOutputs } from '../../../../agent/app/outputs.js';
import { tempState } from '../pipeline/support.js';

test('createOutputs builds each output from the registry and names bad types by key path', async (t) => {
  const dir = await tempState(t);
  const loaded = parseConfig({ outputs: [{ type: 'stdout' }, { type: 'file', path: join(dir, 'a.ndjson') }, { type: 'file', path: join(dir, 'b.ndjson') }] }, 'agent.yaml');
  const ctx = { logger: silentLogger, stateDir: dir, configFile: 'agent.yaml', agentPid: process.pid, hostName: 'h' };
  const outs = await createOutputs(loaded, ctx);
  assert.deepEqual(outs.map((o) => [o.name, o.transport.type]), [['stdout', 'stdout'], ['file', 'file'], ['file-2', 'file']]);
  const bad: LoadedConfig = { ...loaded, config: { ...loaded.config, outputs: [loaded.config.outputs[0]!, { ...loaded.config.outputs[0]!, type: 'carrier-pigeon' }] } };
  await assert.rejects(createOutputs(bad, ctx), (err: unknown) => err instanceof ConfigError && err.keyPath === 'outputs[1].type' && /carrier-pigeon/.test(err.message));
});
