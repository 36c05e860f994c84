/**
 * What `portwarden policy sign` reads: a policy source file (YAML) naming the rule files and holding
 * the allowlist, sensitive ports and disabled rule ids, turned into the bundle's payload bytes. Loads
 * zod and yaml: the CLI only.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readConfigFile, validate } from '../../config/loader.js';
import { allowEntrySchema, sensitivePortSchema } from '../detect/config.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFileSync } from '../util/safe-fs.js';
import { BUNDLE_FORMAT, validateBundle } from './bundle.js';
import type { BundleContent, PolicyOverlay } from './bundle.js';

export const policySourceSchema = z.strictObject({
  version: z.union([z.string(), z.number()]).transform(String).optional()
    .describe('the bundle version (`--version` overrides it); reported by every agent that applies it'),
  rule_files: z.array(z.string()).default([])
    .describe('rule files to include (portwarden packs or Sigma), relative to this file'),
  allowlist: z.array(allowEntrySchema).default([]).describe('entries added to every agent\'s detect.allowlist'),
  sensitive_ports: z.array(sensitivePortSchema).default([]).describe('entries added to every agent\'s detect.sensitive_ports'),
  disabled_rules: z.array(z.string()).default([]).describe('rule ids switched off on every agent'),
});

/**
 * The payload of a bundle built from a source file, validated as an agent will validate it (a
 * bundle the fleet would refuse is never signed). `created` is now unless given.
 */
export function buildPayload(sourceFile: string, env: NodeJS.ProcessEnv, opts: { version?: string; created?: Date } = {}): { payload: Buffer; overlay: PolicyOverlay } {
  const src = validate(policySourceSchema, readConfigFile(sourceFile, env), sourceFile);
  const version = opts.version ?? src.version;
  if (version === undefined || version === '') throw new ConfigError(sourceFile, 'version', 'a bundle version (in the file or with --version)');
  const base = dirname(resolve(sourceFile));
  const rules = src.rule_files.map((f, i) => {
    try {
      // The cap of a rule file the agent loads itself: a bundle carries what a config could.
      return { name: f, text: readRegularFileSync(resolve(base, f), MAX_CONFIG_FILE_BYTES).toString('utf8') };
    } catch (err) {
      throw new ConfigError(sourceFile, `rule_files[${i}]`, `a readable rule file, but cannot read ${f} (${errorMessage(err)})`, err);
    }
  });
  const content: BundleContent = {
    format: BUNDLE_FORMAT, version, created: (opts.created ?? new Date()).toISOString(),
    rules, allowlist: src.allowlist, sensitive_ports: src.sensitive_ports, disabled_rules: src.disabled_rules,
  };
  const payload = Buffer.from(JSON.stringify(content));
  return { payload, overlay: validateBundle(payload, `policy bundle ${version}`) };
}
