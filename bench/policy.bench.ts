// What the central policy costs an agent: verifying a bundle's signature (against hashing the same
// bytes), validating its content in the worker (against in-process), and a poll that finds the
// bundle unchanged (304) against one that downloads it (200), over real HTTPS on loopback.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { builtinRuleFiles } from '../agent/detect/load.js';
import { BUNDLE_FORMAT, validateBundle } from '../agent/policy/bundle.js';
import { signEnvelope, verifyEnvelope } from '../agent/policy/envelope.js';
import { fetchBundle } from '../agent/policy/fetch.js';
import { validateBundleIsolated } from '../agent/policy/validate-isolated.js';
import { makeTestPki } from '../testkit/peers/pki.js';
import { startPolicyServer } from '../testkit/peers/policy-server.js';
import type { Bench } from './harness.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timed(n: number, fn: () => unknown): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

const bench: Bench = async () => {
  // Every shipped rule pack as the bundle's rules: a large, realistic policy.
  const rules = builtinRuleFiles().map((f) => ({ name: f.split('/').pop() ?? f, text: readFileSync(f, 'utf8') }));
  const payload = Buffer.from(JSON.stringify({ format: BUNDLE_FORMAT, version: 'bench', created: new Date().toISOString(), rules }));
  const keys = generateKeyPairSync('ed25519');
  const envelope = signEnvelope(payload, [keys]);

  const verify = await timed(200, () => verifyEnvelope(envelope, [keys.publicKey]));
  const hash = await timed(200, () => createHash('sha256').update(envelope).digest());
  const inProcess = await timed(10, () => validateBundle(payload, 'bench'));
  const inWorker = await timed(10, () => validateBundleIsolated(payload, 'bench'));

  const pki = await makeTestPki();
  const server = await startPolicyServer(pki);
  server.publish(envelope);
  const opts = { url: server.url, ca: readFileSync(pki.ca), timeoutMs: 10_000, maxBytes: 16 << 20, userAgent: 'bench' };
  const first = await fetchBundle(opts);
  const etag = first.kind === 'fetched' ? first.etag : undefined;
  const full = await timed(30, () => fetchBundle(opts));
  const notModified = await timed(30, () => fetchBundle({ ...opts, ...(etag === undefined ? {} : { etag }) }));
  await server.close();
  await pki.dispose();

  return [{
    title: `policy bundle of every shipped rule pack (${rules.length} files, envelope ${envelope.length} bytes)`,
    columns: ['step', 'median ms', 'reference', 'reference ms', 'ratio'],
    rows: [
      ['verify the Ed25519 signature (agent isolate)', verify, 'SHA-256 of the envelope', hash, verify / hash],
      ['validate the content in a worker (per new bundle)', inWorker, 'validate in-process', inProcess, inWorker / inProcess],
      ['poll, bundle unchanged (If-None-Match -> 304)', notModified, 'poll that downloads it (200)', full, notModified / full],
    ],
    notes: ['Median of 200 (verify, hash), 10 (validate) and 30 (fetch) runs; fetches over HTTPS on loopback, a new TLS connection each.'],
  }];
};

export default bench;
