import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startAgent } from '../../helpers/agent-process.js';
import { startListenerChain } from '../../helpers/listeners.js';
import { waitFor } from '../../helpers/wait.js';

interface Sink { url: string; server: Server; answer: boolean; lines: Record<string, unknown>[]; bodies: string[] }

/** An NDJSON HTTP receiver; while `answer` is false it reads each request and never answers it. */
async function sink(): Promise<Sink> {
  const s: Sink = { url: '', server: createServer(), answer: false, lines: [], bodies: [] };
  s.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      s.bodies.push(body);
      if (!s.answer) return;
      for (const l of body.split('\n')) if (l !== '') s.lines.push(JSON.parse(l) as Record<string, unknown>);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => { s.server.listen(0, '127.0.0.1', resolve); });
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}/ingest`;
  return s;
}

const action = (d: Record<string, unknown>): unknown => (d.event as { action?: unknown } | undefined)?.action;
const port = (d: Record<string, unknown>): unknown => (d.destination as { port?: unknown } | undefined)?.port;

test('run: a second SIGTERM while the outputs drain stops at once with exit 143; the undelivered events stay in the spool and go out after the restart', async (t) => {
  const http = await sink();
  t.after(() => { http.server.closeAllConnections(); http.server.close(); });
  // timeout 1h: the hanging request never ends by itself; only the shutdown ends it.
  const outputs = `outputs:\n  - type: http\n    name: siem\n    url: ${http.url}\n    timeout: 1h\n    batch: { max_wait: 100ms }\n    retry: { initial: 100ms, max: 1s }\n`;
  const first = startAgent('detect: { enabled: false }\n', { outputsYaml: outputs });
  t.after(() => { first.proc.kill('SIGKILL'); rmSync(first.dir, { recursive: true, force: true }); });
  const log = (): string => { try { return readFileSync(join(first.dir, 'agent.log'), 'utf8'); } catch { return ''; } };
  await waitFor('the first batch in flight, never answered', () => http.bodies.find((b) => b.includes('"action":"started"')), 30_000);
  const startedId = (JSON.parse(http.bodies.flatMap((b) => b.split('\n')).find((l) => l.includes('"action":"started"')) ?? '{}') as { event: { id: string } }).event.id;

  // New events while the first batch hangs: accepted into the spool, not delivered.
  const chain = await startListenerChain('webapp', ['tcp:127.0.0.1:0', 'tcp:127.0.0.1:0', 'tcp:127.0.0.1:0']);
  t.after(() => { chain.kill(); });
  const ports = chain.opened.map((o) => o.port);
  const spool = join(first.dir, 'state', 'spool');
  const spooled = (): string => readdirSync(spool).filter((n) => n.endsWith('.seg')).map((n) => readFileSync(join(spool, n), 'latin1')).join('');
  await waitFor('the 3 listeners accepted into the spool', () => ports.every((p) => spooled().includes(`"port":${p}`)) || undefined, 30_000);

  first.proc.kill('SIGTERM');
  await waitFor('the graceful stop under way', () => log().includes('SIGTERM: stopping') || undefined, 10_000);
  // The outputs' drain waits up to 3 s for the hanging request: cut it short, twice.
  const t0 = Date.now();
  first.proc.kill('SIGTERM');
  first.proc.kill('SIGTERM');
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (first.proc.exitCode !== null || first.proc.signalCode !== null) resolve({ code: first.proc.exitCode, signal: first.proc.signalCode });
    else first.proc.once('exit', (code, signal) => { resolve({ code, signal }); });
  });
  assert.deepEqual(exit, { code: 143, signal: null }, `${first.stderr()}\n${log().slice(-3000)}`);
  t.diagnostic(`exited ${Date.now() - t0} ms after the second SIGTERM (the drain alone would have waited up to 3 s)`);
  assert.equal(log().split('\n').filter((l) => l.includes('SIGTERM again: stopping now')).length, 1, 'logged once');
  assert.ok(!ports.some((p) => http.lines.some((d) => action(d) === 'listening_started' && port(d) === p)), 'nothing was acknowledged by the sink');

  // Restart with the sink answering: everything the first run accepted goes out from the spool.
  http.answer = true;
  const again = startAgent('detect: { enabled: false }\n', { outputsYaml: outputs, dir: first.dir });
  t.after(() => { again.proc.kill('SIGKILL'); });
  await waitFor('the listeners of the first run delivered after the restart',
    () => ports.every((p) => http.lines.some((d) => action(d) === 'listening_started' && port(d) === p)) || undefined, 60_000);
  assert.ok(http.lines.some((d) => (d.event as { id?: unknown }).id === startedId), 'the batch in flight at the second signal was sent again');
  assert.ok(http.lines.some((d) => action(d) === 'stopped'), 'the first run\'s stopped event was written to the spool and delivered');
  assert.equal(await again.stop(), 0, again.stderr());
});
