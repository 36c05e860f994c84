/**
 * Runs `portwarden check-config --schema-only` on a config text, as an operator would before
 * deploying it (its TLS and rule files are on the target hosts, not here).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { outputCommonShape } from '../../../agent/pipeline/config.js';
import { kafkaConfigSchema } from '../../../transports/kafka/config.js';
import { transportRegistry } from '../../../transports/registry.js';
import { cliPath } from '../../../testkit/paths.js';

export interface CheckResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Set when kafka outputs had to be validated against their schema directly (not registered yet). */
  note?: string;
}

/**
 * Validates `text` with the real CLI under `env`. While the kafka transport is not in the
 * registry, kafka outputs are checked against transports/kafka/config.ts and replaced by stdout
 * for the CLI run (throws with zod's message when they are invalid).
 */
export function checkConfigText(text: string, env: Record<string, string>): CheckResult {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cfg-'));
  try {
    let body = text;
    let note: string | undefined;
    const raw = parse(text.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_m, n: string, d: string | undefined) => env[n] ?? d ?? '')) as { outputs?: { type?: string }[] } | null;
    const kafka = (raw?.outputs ?? []).filter((o) => o.type === 'kafka');
    if (kafka.length > 0 && !transportRegistry.has('kafka') && raw !== null) {
      for (const o of kafka) kafkaConfigSchema.extend(outputCommonShape).parse(o);
      const rest = (raw.outputs ?? []).filter((o) => o.type !== 'kafka');
      body = stringify({ ...raw, outputs: rest.length > 0 ? rest : [{ type: 'stdout' }] });
      note = 'kafka is not in transports/registry.ts yet: its outputs were validated against transports/kafka/config.ts';
    }
    const file = join(dir, 'portwarden.yml');
    writeFileSync(file, body);
    const r = spawnSync(process.execPath, [cliPath, 'check-config', '--schema-only', '--config', file], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ...(note === undefined ? {} : { note }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
