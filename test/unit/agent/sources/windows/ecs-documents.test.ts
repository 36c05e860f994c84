import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DocumentBuilder } from '../../../../../agent/ecs/builder.js';
import { getField } from '../../../../../agent/ecs/document.js';
import { Action } from '../../../../../agent/ecs/fields.js';
import type { HostContext } from '../../../../../agent/ecs/host.js';
import { ProcessTable } from '../../../../../agent/lineage/process-table.js';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import { createWindowsSource } from '../../../../../agent/sources/windows/source.js';
import { ecsProblems } from '../../../../helpers/ecs-validate.js';
import { recordedHost } from './recorded-host.js';

const HOST: HostContext = {
  id: '4C4C4544-0042-3510-8052-B4C04F4E3232', name: 'ts-01.corp.example', hostname: 'ts-01', architecture: 'x64',
  os: { type: 'windows', name: 'Windows Server 2022 Datacenter', version: '10.0.20348', platform: 'windows' },
  ip: ['10.9.0.2'], mac: ['00-15-5D-01-02-03'], boot: { id: 'boot-1795161600' },
};
const AGENT = { type: 'portwarden' as const, name: 'ts-01', id: '0192f3a4-5b6c-7d8e-9f00-112233445566', version: '0.1.0', ephemeral_id: '0192f3a4-0000-7000-8000-000000000001' };

test('listening_existing documents for the recorded Windows snapshot are valid ECS with paths, users and services', async (t) => {
  const host = recordedHost();
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  const snap = await src.poll();
  const table = new ProcessTable({ hostId: HOST.id, bootId: HOST.boot.id });
  const byStart = [...snap.processes.values()].sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.pid - b.pid);
  for (const p of byStart) table.upsert(p);
  const builder = new DocumentBuilder(HOST, AGENT);
  const docs = snap.listeners.map((l) => {
    const owner = l.owners[0] === undefined ? undefined : table.get(l.owners[0]);
    return builder.listener(l, owner, owner === undefined ? [] : table.ancestors(owner), { action: Action.listeningExisting });
  });
  assert.equal(docs.length, 8);
  for (const d of docs) assert.deepEqual(ecsProblems(JSON.parse(JSON.stringify(d))), [], String(getField(d, 'server.port')));
  const zoned = docs.find((d) => getField(d, 'server.port') === 2869)!;
  assert.equal(getField(zoned, 'server.ip'), 'fe80::1c2d:3e4f:5a6b:7c8d', 'no zone inside an ip field');
  assert.equal(getField(zoned, 'portwarden.listener.interface'), '12');

  const rdp = docs.find((d) => getField(d, 'server.port') === 3389 && getField(d, 'server.ip') === '0.0.0.0')!;
  assert.equal(getField(rdp, 'process.executable'), 'C:\\Windows\\System32\\svchost.exe');
  assert.equal(getField(rdp, 'user.name'), 'NETWORK SERVICE');
  assert.equal(getField(rdp, 'user.domain'), 'NT AUTHORITY');
  assert.equal(getField(rdp, 'portwarden.listener.service_name'), 'TermService');
  assert.equal(getField(rdp, 'portwarden.listener.firewall'), 'allowed');
  assert.equal(getField(rdp, 'process.parent.name'), 'services.exe');

  const node = docs.find((d) => getField(d, 'server.port') === 8080)!;
  assert.equal(getField(node, 'process.executable'), 'C:\\Program Files\\nodejs\\node.exe');
  assert.equal(getField(node, 'process.command_line'), '"C:\\Program Files\\nodejs\\node.exe" C:\\srv\\app\\server.js --port 8080 --title "a \\"b\\" c"');
  assert.equal(getField(node, 'user.domain'), 'CORP');
  assert.equal(getField(node, 'user.name'), 'alice');
  assert.equal(getField(node, 'process.parent.executable'), 'C:\\Windows\\explorer.exe');
  assert.equal(getField(node, 'portwarden.listener.firewall'), 'blocked');
  assert.equal(getField(node, 'event.action'), 'listening_existing');
  assert.equal(getField(node, 'process.pe.original_file_name'), 'node.exe');
  assert.equal(getField(node, 'process.code_signature.trusted'), true);
  assert.equal(getField(node, 'process.code_signature.subject_name'), 'OpenJS Foundation');
});
