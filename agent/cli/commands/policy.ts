import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { overlaySummary, validateBundle } from '../../policy/bundle.js';
import { keyId, signEnvelope, verifyEnvelope } from '../../policy/envelope.js';
import { readPrivateKey, readPublicKeys, writeKeyPair } from '../../policy/keys.js';
import { buildPayload } from '../../policy/source.js';
import { ConfigError, PortwardenError, UsageError, errorMessage } from '../../util/errors.js';
import { visibleLines } from '../../util/terminal-text.js';
import { parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden policy keygen [--force] NAME
       portwarden policy sign --key FILE [--key FILE ...] [--version V] [--out FILE] SOURCE
       portwarden policy verify --public-key FILE [--public-key FILE ...] [--json] BUNDLE

Makes and checks the signed central policy that agents with a \`policy\` section fetch. A bundle
is one JSON file (a DSSE envelope: the payload and its Ed25519 signatures): put it on any static
web server or object store behind HTTPS.

  keygen NAME   write a new Ed25519 key pair: NAME.key (private, created 0600; keep it off the
                agents) and NAME.pub (public: the agents' policy.public_key). Prints the key id.
  sign SOURCE   build a bundle from a policy source file (YAML: version, rule_files, allowlist,
                sensitive_ports, disabled_rules; see docs/fleet.md), validate it as an agent
                will, and sign it with each --key (several while keys are rotated). Writes the
                bundle to --out (atomically) or stdout.
  verify BUNDLE check a bundle against the given public key(s) and validate its content as an
                agent will; prints its version, created time, signing key and contents.

Options:
  --key FILE          private key (PEM, 0600) to sign with; repeatable
  --public-key FILE   trusted public key(s) (PEM; a file may hold several); repeatable
  --version V         the bundle version (overrides the source's \`version\`)
  --out FILE          where sign writes the bundle (default: stdout)
  --force             keygen: replace existing key files
  --json              verify: print the result as one JSON object
  -h, --help          this help

Exit codes: 0 ok; 1 verify refused the bundle; 2 usage error, unreadable key or invalid source.`;

const OPTIONS = {
  key: { type: 'string', multiple: true },
  'public-key': { type: 'string', multiple: true },
  version: { type: 'string' },
  out: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

/** Key file problems are the operator's input: exit code 2, like a usage error. */
function keyErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PortwardenError && err.code === 'POLICY_KEY') throw new UsageError(`portwarden policy: ${err.message}`);
    throw err;
  }
}

function keygen(name: string, v: Values, io: CliIO): number {
  const id = keyErrors(() => writeKeyPair(`${name}.key`, `${name}.pub`, v.force === true));
  io.stdout.write(`wrote ${name}.key (private, 0600) and ${name}.pub (public); key id ${id}\n`);
  return 0;
}

function signBundle(source: string, v: Values, io: CliIO): number {
  const files = v.key ?? [];
  if (files.length === 0) throw new UsageError('portwarden policy sign: --key FILE is required (see portwarden policy --help)');
  const keys = keyErrors(() => files.map(readPrivateKey));
  const { payload, overlay } = buildPayload(source, io.env, v.version === undefined ? {} : { version: v.version });
  const bundle = signEnvelope(payload, keys);
  const ids = keys.map((k) => keyId(k.publicKey)).join(', ');
  if (v.out === undefined) {
    io.stdout.write(bundle);
  } else {
    // Atomic, so a web server's document root never serves half a bundle.
    const tmp = `${v.out}.tmp-${process.pid}`;
    writeFileSync(tmp, bundle, { mode: 0o644 });
    renameSync(tmp, v.out);
  }
  io.stderr.write(`signed policy ${overlay.version} (${overlaySummary(overlay)}) with ${ids}${v.out === undefined ? '' : ` -> ${v.out}`}\n`);
  return 0;
}

function verifyBundle(file: string, v: Values, io: CliIO): number {
  const files = v['public-key'] ?? [];
  if (files.length === 0) throw new UsageError('portwarden policy verify: --public-key FILE is required (see portwarden policy --help)');
  const keys = keyErrors(() => files.flatMap(readPublicKeys));
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UsageError(`portwarden policy verify: cannot read ${file}: ${errorMessage(err)}`);
  }
  const refused = (reason: string): number => {
    if (v.json === true) io.stdout.write(`${JSON.stringify({ verified: false, reason })}\n`);
    else io.stderr.write(`portwarden policy verify: ${visibleLines(file)}: refused: ${visibleLines(reason)}\n`);
    return 1;
  };
  const res = verifyEnvelope(bytes, keys);
  if (res.kind === 'refused') return refused(res.reason);
  let summary: string;
  let counts: Record<string, number>;
  try {
    const o = validateBundle(res.payload, `policy bundle ${res.header.version}`);
    summary = overlaySummary(o);
    counts = { rules: o.rules.length, allowlist: o.allowlist.length, sensitive_ports: o.sensitivePorts.length, disabled_rules: o.disabledRules.length };
  } catch (err) {
    if (err instanceof ConfigError) return refused(`signed, but its content is invalid: ${err.message}`);
    throw err;
  }
  const { version, created } = res.header;
  if (v.json === true) io.stdout.write(`${JSON.stringify({ verified: true, version, created, key_id: res.keyId, ...counts })}\n`);
  else io.stdout.write(visibleLines(`${file}: verified: version ${version}, created ${created}, signed by ${res.keyId}; ${summary}\n`));
  return 0;
}

export const policyCommand: Command = {
  name: 'policy',
  help: HELP,
  run(argv: string[], io: CliIO): Promise<number> {
    try {
      const { values, positionals } = parseCommandArgs('policy', argv, OPTIONS, true);
      if (values.help === true) {
        io.stdout.write(`${HELP}\n`);
        return Promise.resolve(0);
      }
      const [verb, arg, ...extra] = positionals;
      if (arg === undefined || extra.length > 0) throw new UsageError('portwarden policy: expected "keygen NAME", "sign SOURCE" or "verify BUNDLE" (see portwarden policy --help)');
      switch (verb) {
        case 'keygen': return Promise.resolve(keygen(arg, values, io));
        case 'sign': return Promise.resolve(signBundle(arg, values, io));
        case 'verify': return Promise.resolve(verifyBundle(arg, values, io));
        default: throw new UsageError(`portwarden policy: unknown subcommand "${verb ?? ''}" (keygen, sign or verify)`);
      }
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  },
};
