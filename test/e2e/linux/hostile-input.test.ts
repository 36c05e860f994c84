import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { startAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

const LISTEN = 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()';

test('run: a local process with a 1 MiB command line listening under a small spool cap is shipped cut, not fatal', async (t) => {
  // 256 KiB spool: an event may take 128 KiB, far less than the listener's command line.
  const agent = startAgent('events: { process: true }\ndetect: { enabled: false }\nspool: { max_bytes: 256KiB }\n');
  t.after(() => agent.stop());
  await waitFor('the first inventory', () => agent.events().find((d) => d.event.action === 'listening_existing'), 30_000);

  const padding = Array.from({ length: 256 }, (_, i) => `${i}-${'a'.repeat(4000)}`);
  const argv = ['-c', LISTEN, ...padding];
  const py = spawn('python3', argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { py.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    py.stdout.once('data', (b: Buffer) => { resolve(Number(b.toString().trim())); });
    py.once('exit', (code) => { reject(new Error(`listener exited ${code}`)); });
  });
  const isOurs = (d: EcsDocument): boolean => d.event.action === 'listening_started' && getField(d, 'destination.port') === port;
  const doc = await waitFor('the listener event', () => agent.events().find(isOurs), 30_000);

  assert.equal(agent.proc.exitCode, null, `the agent is still running: ${agent.stderr()}`);
  assert.equal(getField(doc, 'process.args_count'), argv.length + 1, 'the real argument count, not the count of what was kept');
  const truncated = getField(doc, 'portwarden.truncated') as string[];
  assert.ok(Array.isArray(truncated) && truncated.includes('process.args'), `cut fields listed: ${JSON.stringify(truncated)}`);
  assert.ok(JSON.stringify(doc).length < 128 * 1024, 'the event fits the spool');
  assert.equal(getField(doc, 'process.name'), 'python3');
  assert.equal(await agent.stop(), 0, agent.stderr());
});
