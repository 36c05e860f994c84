import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DocumentBuilder } from '../../../../../agent/ecs/builder.js';
import { getField } from '../../../../../agent/ecs/document.js';
import { Action } from '../../../../../agent/ecs/fields.js';
import type { HostContext } from '../../../../../agent/ecs/host.js';
import { ProcessTable } from '../../../../../agent/lineage/process-table.js';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import type { CommandRunner } from '../../../../../agent/sources/darwin/command-runner.js';
import { createDarwinSource } from '../../../../../agent/sources/darwin/source.js';
import { ecsProblems } from '../../../../helpers/ecs-validate.js';
import { fixture } from '../../../../../testkit/paths.js';

const HOST: HostContext = {
  id: 'C02XK1ABJG5H', name: 'mbp-17', hostname: 'mbp-17', architecture: 'arm64',
  os: { type: 'macos', name: 'macOS', version: '14.6', platform: 'darwin' },
  ip: ['192.168.1.20'], mac: ['AC-DE-48-00-11-22'], boot: { id: 'boot-1793621340' },
};
const AGENT = { type: 'portwarden' as const, name: 'mbp-17', id: '0192f3a4-5b6c-7d8e-9f00-112233445577', version: '0.1.0', ephemeral_id: '0192f3a4-0000-7000-8000-000000000002' };

test('listening_existing documents for the recorded Mac are valid ECS', async () => {
  const read = (n: string) => readFileSync(fixture('darwin', n), 'utf8');
  const outputs: Record<string, string> = {
    '-iTCP': read('lsof-tcp-listen-F.txt'), '-iUDP': read('lsof-udp-F.txt'),
    'pid=,ppid=,uid=,user=,lstart=,args=': read('ps-lstart.txt'), 'pid=,comm=': read('ps-comm.txt'),
  };
  const runner: CommandRunner = {
    run: (_file, args) => Promise.resolve({ stdout: Object.entries(outputs).find(([k]) => args.includes(k))?.[1] ?? '', stderr: '', code: 0 }),
  };
  const src = createDarwinSource({ logger: memoryLogger(), runner, root: true, localTime: (y, mo, d, h, mi, s) => Date.UTC(y, mo, d, h, mi, s) });
  const snap = await src.poll();
  const table = new ProcessTable({ hostId: HOST.id, bootId: HOST.boot.id });
  for (const p of [...snap.processes.values()].sort((a, b) => Number(a.startKey) - Number(b.startKey) || a.pid - b.pid)) table.upsert(p);
  const builder = new DocumentBuilder(HOST, AGENT);
  const docs = snap.listeners.map((l) => {
    const owner = table.get(l.owners[0] ?? -1);
    return builder.listener(l, owner, owner === undefined ? [] : table.ancestors(owner), { action: Action.listeningExisting });
  });
  assert.equal(docs.length, 13);
  for (const d of docs) assert.deepEqual(ecsProblems(JSON.parse(JSON.stringify(d))), [], String(getField(d, 'server.port')));
  const chrome = docs.find((d) => getField(d, 'server.port') === 9222)!;
  assert.equal(getField(chrome, 'process.name'), 'Google Chrome Helper');
  assert.equal(getField(chrome, 'process.parent.executable'), '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome');
  assert.equal(getField(chrome, 'user.name'), 'kbrazil');
  const kame = docs.find((d) => getField(d, 'server.port') === 3000)!;
  assert.equal(getField(kame, 'server.ip'), 'fe80::aede:48ff:fe00:1122');
  assert.equal(getField(kame, 'portwarden.listener.interface'), '4');
});
