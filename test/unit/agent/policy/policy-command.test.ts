import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../../../agent/cli/main.js';
import { validateBundle } from '../../../../agent/policy/bundle.js';
import { verifyEnvelope } from '../../../../agent/policy/envelope.js';
import { readPublicKeys } from '../../../../agent/policy/keys.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough(); const stderr = new PassThrough();
  let out = ''; let err = '';
  stdout.on('data', (b: Buffer) => { out += b.toString(); });
  stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await main(argv, { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, out, err };
}

const PACK = `ruleset: fleet
version: "3"
rules:
  - id: fleet-sleep
    name: sleep ran
    description: a test rule
    applies_to: process
    severity: medium
    tactic: TA0002
    technique: T1059
    when: { process.name: sleep }
`;

const SIGMA = `title: Curl piped from a web server
id: 1f0c2b7e-9a1d-4c3e-8b5a-000000000001
logsource: { category: process_creation, product: linux }
detection:
  sel: { ParentImage|endswith: '/nginx', Image|endswith: '/curl' }
  condition: sel
level: high
`;

function workspace(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-cli-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'fleet.yaml'), PACK);
  writeFileSync(join(dir, 'rules', 'curl.yml'), SIGMA);
  writeFileSync(join(dir, 'policy.yaml'), `version: "2026-12-07.1"
rule_files: [rules/fleet.yaml, rules/curl.yml]
disabled_rules: [pw-lnx-sshd-child]
allowlist:
  - { comment: build agents, ports: [8080], programs: [java], cidrs: [10.0.0.0/8] }
sensitive_ports:
  - { ports: [9200], service: Elasticsearch, expected_owners: { linux: [java] } }
`);
  return dir;
}

test('policy keygen, sign and verify: a signed bundle carries the rules, allowlist, ports and disabled ids', async (t) => {
  const dir = workspace(t);
  const k = join(dir, 'fleet');
  const gen = await cli(['policy', 'keygen', k]);
  assert.equal(gen.code, 0, gen.err);
  assert.match(gen.out, /key id sha256:[0-9a-f]{32}/);
  assert.equal(statSync(`${k}.key`).mode & 0o777, 0o600);
  assert.ok(!gen.out.includes('PRIVATE KEY'));

  const sign = await cli(['policy', 'sign', '--key', `${k}.key`, '--out', join(dir, 'bundle.json'), join(dir, 'policy.yaml')]);
  assert.equal(sign.code, 0, sign.err);
  assert.match(sign.err, /signed policy 2026-12-07\.1 \(2 rules, 1 allowlist entries, 1 sensitive-port entries, 1 disabled rules\)/);

  const v = verifyEnvelope(readFileSync(join(dir, 'bundle.json')), readPublicKeys(`${k}.pub`));
  assert.ok(v.kind === 'verified');
  const o = validateBundle(v.payload, 'test');
  assert.deepEqual(o.rules.map((r) => r.spec.id).sort(), ['1f0c2b7e-9a1d-4c3e-8b5a-000000000001', 'fleet-sleep']);
  assert.deepEqual(o.disabledRules, ['pw-lnx-sshd-child']);
  assert.deepEqual(o.allowlist[0]?.cidrs, ['10.0.0.0/8']);
  assert.equal(o.sensitivePorts[0]?.service, 'Elasticsearch');

  const ok = await cli(['policy', 'verify', '--public-key', `${k}.pub`, '--json', join(dir, 'bundle.json')]);
  assert.equal(ok.code, 0, ok.err);
  const res = JSON.parse(ok.out) as Record<string, unknown>;
  assert.equal(res.verified, true);
  assert.equal(res.version, '2026-12-07.1');
  assert.equal(res.rules, 2);
});

test('policy verify exits 1 for a tampered bundle and for one signed by another key; --version overrides', async (t) => {
  const dir = workspace(t);
  await cli(['policy', 'keygen', join(dir, 'fleet')]);
  await cli(['policy', 'keygen', join(dir, 'other')]);
  assert.equal((await cli(['policy', 'sign', '--key', join(dir, 'other.key'), '--version', 'evil', '--out', join(dir, 'other.json'), join(dir, 'policy.yaml')])).code, 0);
  const foreign = await cli(['policy', 'verify', '--public-key', join(dir, 'fleet.pub'), join(dir, 'other.json')]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.err, /refused: no signature by a pinned key/);

  const signed = await cli(['policy', 'sign', '--key', join(dir, 'fleet.key'), join(dir, 'policy.yaml')]);
  const env = JSON.parse(signed.out) as { payload: string };
  const text = Buffer.from(env.payload, 'base64').toString().replace('"ports":[8080]', '"ports":[22]');
  env.payload = Buffer.from(text).toString('base64');
  writeFileSync(join(dir, 'tampered.json'), JSON.stringify(env));
  const tampered = await cli(['policy', 'verify', '--public-key', join(dir, 'fleet.pub'), join(dir, 'tampered.json')]);
  assert.equal(tampered.code, 1);
  assert.match(tampered.err, /does not match the payload \(tampered or corrupted\)/);
});

test('policy sign refuses a source whose rules do not compile, naming the file; a missing key is a usage error', async (t) => {
  const dir = workspace(t);
  await cli(['policy', 'keygen', join(dir, 'fleet')]);
  writeFileSync(join(dir, 'rules', 'fleet.yaml'), PACK.replace('when: { process.name: sleep }', 'when: { process.name: { regex: "(" } }'));
  const bad = await cli(['policy', 'sign', '--key', join(dir, 'fleet.key'), '--out', join(dir, 'b.json'), join(dir, 'policy.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /configuration error: .*rules\[0\] \(rules\/fleet\.yaml\).*fleet-sleep/);
  assert.throws(() => statSync(join(dir, 'b.json')));
  const nokey = await cli(['policy', 'sign', '--key', join(dir, 'nope.key'), join(dir, 'policy.yaml')]);
  assert.equal(nokey.code, 2);
  assert.match(nokey.err, /cannot read the private key file/);
});

test('policy sign refuses a rule file over 4 MiB, naming it, its size and the cap, and writes no bundle', async (t) => {
  const dir = workspace(t);
  await cli(['policy', 'keygen', join(dir, 'fleet')]);
  writeFileSync(join(dir, 'rules', 'curl.yml'), `# ${'x'.repeat(4 * 1024 * 1024)}\n`);
  const big = await cli(['policy', 'sign', '--key', join(dir, 'fleet.key'), '--out', join(dir, 'b.json'), join(dir, 'policy.yaml')]);
  assert.equal(big.code, 2);
  assert.match(big.err, /rule_files\[1\].*cannot read rules\/curl\.yml \(.*rules\/curl\.yml is 4,194,307 bytes, larger than 4 MiB, the most such a file may hold\)/);
  assert.throws(() => statSync(join(dir, 'b.json')));
});
