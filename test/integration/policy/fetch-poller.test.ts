// The policy fetcher and poller against a real HTTPS server (node:https, certificates from a test
// PKI made by openssl), as an agent meets a static web server or object store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEnvelope } from '../../../agent/policy/envelope.js';
import { fetchBundle } from '../../../agent/policy/fetch.js';
import { PolicyPoller } from '../../../agent/policy/poller.js';
import type { ApplyResult, PolicyReport } from '../../../agent/policy/poller.js';
import { bundleFile, policyDir, readPolicyState, saveLastGood } from '../../../agent/policy/store.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import type { TestPki } from '../../../testkit/peers/pki.js';
import { startPolicyServer } from '../../../testkit/peers/policy-server.js';

let pki: TestPki;
test.before(async () => { pki = await makeTestPki(); });
test.after(async () => { await pki.dispose(); });

const fleet = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const bundle = (version: string, created: string, keys = [fleet]) =>
  signEnvelope(Buffer.from(JSON.stringify({ format: 'portwarden-policy/1', version, created, disabled_rules: [version] })), keys);
const opts = (url: string, extra: Partial<Parameters<typeof fetchBundle>[0]> = {}) => ({ url, ca: readFileSync(pki.ca), timeoutMs: 5000, maxBytes: 1 << 20, userAgent: 'portwarden-test', ...extra });

test('fetch: the test CA verifies the server; the ETag makes the next fetch a 304; other CAs and oversize bodies fail', async (t) => {
  const server = await startPolicyServer(pki);
  t.after(() => server.close());
  server.publish(bundle('v1', '2026-12-07T00:00:00Z'));
  const first = await fetchBundle(opts(server.url));
  assert.ok(first.kind === 'fetched');
  const { etag } = first;
  assert.ok(etag !== undefined);
  assert.deepEqual(await fetchBundle(opts(server.url, { etag })), { kind: 'not-modified' });
  assert.equal(server.lastHeaders()['if-none-match'], etag);
  assert.equal(server.counts[304], 1);

  const untrusted = await fetchBundle(opts(server.url, { ca: readFileSync(pki.otherCa) }));
  assert.ok(untrusted.kind === 'failed');
  assert.match(untrusted.reason, /self.signed|unable to (get|verify)/i);
  const system = await fetchBundle({ ...opts(server.url), ca: undefined } as unknown as Parameters<typeof fetchBundle>[0]);
  assert.equal(system.kind, 'failed');
  const small = await fetchBundle(opts(server.url, { maxBytes: 100 }));
  assert.match(small.kind === 'failed' ? small.reason : small.kind, /more than policy\.max_bytes \(100\)/);
  const missing = await fetchBundle(opts(server.url.replace('policy.json', 'nope.json')));
  assert.match(missing.kind === 'failed' ? missing.reason : missing.kind, /HTTP 404/);
  await server.close();
  const down = await fetchBundle(opts(server.url));
  assert.match(down.kind === 'failed' ? down.reason : down.kind, /ECONNREFUSED/);
});

test('poller: applies a verified bundle once, a 304 costs no re-apply, refuses tampered, foreign and older bundles and keeps the last good one', async (t) => {
  const server = await startPolicyServer(pki);
  const stateDir = mkdtempSync(join(tmpdir(), 'pw-policy-poll-'));
  t.after(async () => { await server.close(); rmSync(stateDir, { recursive: true, force: true }); });
  const applied: string[] = [];
  const reports: PolicyReport[] = [];
  const poller = new PolicyPoller({
    ...opts(server.url), intervalMs: 60_000, keys: [fleet.publicKey], stateDir,
    apply: (_env, header): Promise<ApplyResult> => { applied.push(header.version); return Promise.resolve({ kind: 'applied', summary: 'ok' }); },
    report: (r) => { reports.push(r); },
  });

  assert.equal(await poller.pollOnce(), 'failed');
  assert.deepEqual(reports.map((r) => r.kind), ['unreachable']);

  const v1 = bundle('v1', '2026-12-07T01:00:00Z');
  server.publish(v1);
  assert.equal(await poller.pollOnce(), 'applied');
  assert.deepEqual(applied, ['v1']);
  await poller.saved();
  assert.deepEqual(readFileSync(bundleFile(stateDir)), v1);
  assert.equal(readPolicyState(stateDir)?.version, 'v1');
  assert.equal(poller.status().version, 'v1');
  assert.equal(await poller.pollOnce(), 'not-modified');
  assert.equal(await poller.pollOnce(), 'not-modified');
  assert.deepEqual(applied, ['v1']);

  const env = JSON.parse(bundle('v2', '2026-12-07T02:00:00Z').toString()) as { payload: string };
  env.payload = Buffer.from(Buffer.from(env.payload, 'base64').toString().replace('"v2"]', '"pw-lnx-webserver-shell"]')).toString('base64');
  server.publish(Buffer.from(JSON.stringify(env)));
  assert.equal(await poller.pollOnce(), 'refused');
  assert.equal(await poller.pollOnce(), 'refused');
  server.publish(bundle('v3', '2026-12-07T03:00:00Z', [other]));
  assert.equal(await poller.pollOnce(), 'refused');
  server.publish(bundle('v0', '2026-12-06T00:00:00Z'));
  assert.equal(await poller.pollOnce(), 'refused');
  assert.deepEqual(applied, ['v1']);
  assert.deepEqual(readFileSync(bundleFile(stateDir)), v1);
  const refusals = reports.flatMap((r) => (r.kind === 'refused' ? [r.reason] : []));
  assert.equal(refusals.length, 3, 'each bad bundle reported once');
  assert.match(refusals[0] ?? '', /does not match the payload/);
  assert.match(refusals[1] ?? '', /no signature by a pinned key/);
  assert.match(refusals[2] ?? '', /older than the applied bundle v1/);

  server.publish(bundle('v4', '2026-12-07T04:00:00Z'));
  assert.equal(await poller.pollOnce(), 'applied');
  assert.deepEqual(applied, ['v1', 'v4']);
  await poller.saved();
  assert.equal(readPolicyState(stateDir)?.version, 'v4');
});

test('poller: a bundle the agent refuses to apply (invalid content) is not saved and not retried until it changes', async (t) => {
  const server = await startPolicyServer(pki);
  const stateDir = mkdtempSync(join(tmpdir(), 'pw-policy-poll-'));
  t.after(async () => { await server.close(); rmSync(stateDir, { recursive: true, force: true }); });
  let calls = 0;
  const poller = new PolicyPoller({
    ...opts(server.url), intervalMs: 60_000, keys: [fleet.publicKey], stateDir, report: () => undefined,
    apply: (): Promise<ApplyResult> => { calls++; return Promise.resolve({ kind: 'refused', reason: 'rules[0]: invalid YAML' }); },
  });
  server.publish(bundle('bad', '2026-12-07T00:00:00Z'));
  assert.equal(await poller.pollOnce(), 'refused');
  assert.equal(await poller.pollOnce(), 'refused');
  assert.equal(calls, 1);
  assert.equal(readPolicyState(stateDir), undefined);
  assert.match(poller.status().lastError ?? '', /invalid YAML/);
});

test('poller: a bundle deferred by the agent (its reload refused for a local reason, or it is stopping) is tried again and applied', async (t) => {
  const server = await startPolicyServer(pki);
  const stateDir = mkdtempSync(join(tmpdir(), 'pw-policy-poll-'));
  t.after(async () => { await server.close(); rmSync(stateDir, { recursive: true, force: true }); });
  const answers: (ApplyResult | Error)[] = [{ kind: 'deferred', reason: 'portwarden.yaml: interval: expected a duration' }, new Error('the agent is stopping'), { kind: 'applied', summary: 'ok' }];
  const reports: PolicyReport[] = [];
  const poller = new PolicyPoller({
    ...opts(server.url), intervalMs: 60_000, keys: [fleet.publicKey], stateDir, report: (r) => { reports.push(r); },
    apply: (): Promise<ApplyResult> => {
      const a = answers.shift();
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a ?? { kind: 'refused', reason: 'unexpected' });
    },
  });
  server.publish(bundle('v1', '2026-12-07T00:00:00Z'));
  assert.equal(await poller.pollOnce(), 'deferred');
  assert.match(poller.status().lastError ?? '', /not applied yet: portwarden\.yaml: interval/);
  assert.equal(await poller.pollOnce(), 'deferred');
  assert.equal(await poller.pollOnce(), 'applied');
  await poller.saved();
  assert.equal(readPolicyState(stateDir)?.version, 'v1');
  assert.deepEqual(reports.map((r) => r.kind), ['deferred', 'deferred', 'applied']);
});

test('poller: two bundles applied back to back end with the later one saved, even when the earlier save is slow', async (t) => {
  const server = await startPolicyServer(pki);
  const stateDir = mkdtempSync(join(tmpdir(), 'pw-policy-poll-'));
  t.after(async () => { await server.close(); rmSync(stateDir, { recursive: true, force: true }); });
  // The first save is held back (a slow disk) until the second bundle is applied.
  let release = (): void => undefined;
  const held = new Promise<void>((r) => { release = r; });
  let saves = 0;
  const poller = new PolicyPoller({
    ...opts(server.url), intervalMs: 60_000, keys: [fleet.publicKey], stateDir, report: () => undefined,
    apply: (): Promise<ApplyResult> => Promise.resolve({ kind: 'applied', summary: 'ok' }),
    save: async (...a) => { if (saves++ === 0) await held; return saveLastGood(...a); },
  });
  server.publish(bundle('v1', '2026-12-07T01:00:00Z'));
  assert.equal(await poller.pollOnce(), 'applied');
  const v2 = bundle('v2', '2026-12-07T02:00:00Z');
  server.publish(v2);
  assert.equal(await poller.pollOnce(), 'applied');
  assert.equal(poller.status().version, 'v2');
  release();
  await poller.shutdown();
  assert.equal(saves, 2);
  assert.equal(readPolicyState(stateDir)?.version, 'v2');
  assert.deepEqual(readFileSync(bundleFile(stateDir)), v2);
});

test('poller: a bundle that cannot be saved stays applied, the failure is reported once, and the next bundle is saved', async (t) => {
  const server = await startPolicyServer(pki);
  const stateDir = mkdtempSync(join(tmpdir(), 'pw-policy-poll-'));
  t.after(async () => { await server.close(); rmSync(stateDir, { recursive: true, force: true }); });
  // A file where the policy directory should be: every write under it fails, as on a full disk.
  writeFileSync(policyDir(stateDir), 'in the way');
  const applied: string[] = [];
  const reports: PolicyReport[] = [];
  const poller = new PolicyPoller({
    ...opts(server.url), intervalMs: 60_000, keys: [fleet.publicKey], stateDir, report: (r) => { reports.push(r); },
    apply: (_env, header): Promise<ApplyResult> => { applied.push(header.version); return Promise.resolve({ kind: 'applied', summary: 'ok' }); },
  });
  server.publish(bundle('v1', '2026-12-07T01:00:00Z'));
  assert.equal(await poller.pollOnce(), 'applied');
  await poller.saved();
  assert.deepEqual(reports.map((r) => r.kind), ['applied', 'unsaved']);
  const unsaved = reports[1];
  assert.ok(unsaved?.kind === 'unsaved');
  assert.equal(unsaved.version, 'v1');
  assert.match(unsaved.reason, /EEXIST|ENOTDIR/);
  assert.equal(poller.status().version, 'v1', 'still applied');
  assert.match(poller.status().lastError ?? '', /bundle v1 applied, but not saved in the state dir/);
  assert.equal(await poller.pollOnce(), 'not-modified');
  assert.equal(reports.length, 2, 'reported once');

  rmSync(policyDir(stateDir));
  server.publish(bundle('v2', '2026-12-07T02:00:00Z'));
  assert.equal(await poller.pollOnce(), 'applied');
  await poller.shutdown();
  assert.deepEqual(applied, ['v1', 'v2']);
  assert.deepEqual(reports.map((r) => r.kind), ['applied', 'unsaved', 'applied']);
  assert.equal(readPolicyState(stateDir)?.version, 'v2');
});

test('poller: after a failed fetch, the bundle refused before is still the last error once the server answers again', async (t) => {
  const server = await startPolicyServer(pki);
  const stateDir = mkdtempSync(join(tmpdir(), 'pw-policy-poll-'));
  t.after(async () => { await server.close(); rmSync(stateDir, { recursive: true, force: true }); });
  // The real fetch, but one poll fails as a dropped connection would (what failed is not the point).
  let failNext = false;
  const poller = new PolicyPoller({
    ...opts(server.url), intervalMs: 60_000, keys: [fleet.publicKey], stateDir, report: () => undefined,
    apply: (): Promise<ApplyResult> => Promise.resolve({ kind: 'refused', reason: 'rules[0]: invalid YAML' }),
    fetch: (o) => (failNext ? Promise.resolve({ kind: 'failed' as const, reason: 'socket hang up' }) : fetchBundle(o)),
  });
  server.publish(bundle('bad', '2026-12-07T00:00:00Z'));
  assert.equal(await poller.pollOnce(), 'refused');
  failNext = true;
  assert.equal(await poller.pollOnce(), 'failed');
  assert.match(poller.status().lastError ?? '', /socket hang up/);
  failNext = false;
  assert.equal(await poller.pollOnce(), 'refused');
  assert.match(poller.status().lastError ?? '', /bundle refused: .*invalid YAML/, 'status says why the served bundle is not applied, not a failure that is over');
});
