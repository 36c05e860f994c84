/**
 * The central policy in the running agent: the detection overlay named `policy` (overlay.ts) and the
 * poller that fetches it (agent/policy/). At start the overlay is the last good bundle of the state
 * dir, checked again against the pinned keys; a newly fetched bundle that verifies is validated in a
 * worker and applied through the agent's reload path, like a SIGHUP. Reports go to the log and
 * in-band (policy_applied / policy_refused / policy_unreachable / policy_save_failed).
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AgentEventFactory, EcsDocument } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { Logger } from '../log/logger.js';
import type { PolicyConfig } from '../policy/config.js';
import { verifyEnvelope } from '../policy/envelope.js';
import type { BundleHeader } from '../policy/envelope.js';
import { readPublicKeys } from '../policy/keys.js';
import { PolicyPoller } from '../policy/poller.js';
import type { ApplyResult, PolicyReport, PolicyStatus } from '../policy/poller.js';
import { displayUrl, readLastGood, readPolicyState } from '../policy/store.js';
import { readRegularFileSync } from '../util/safe-fs.js';
import type { PolicyState } from '../policy/store.js';
import { validateBundleIsolated } from '../policy/validate-isolated.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import type { OverlayBundle, DetectionOverlay } from './overlay.js';
import type { ReloadResult } from './reload.js';

export interface PolicyHooks {
  reload(reason: string): Promise<ReloadResult>;
  agentEvent: AgentEventFactory;
  accept(doc: EcsDocument): Promise<void>;
}

function summaryOf(b: OverlayBundle): string {
  return `${b.rules.length} rules, ${b.allowlist.length} allowlist entries, ${b.sensitivePorts.length} sensitive-port entries, ${b.disabledRules.length} disabled rules`;
}

/** Reads the pinned keys and the CA; a ConfigError naming `policy.public_key[i]` or `policy.ca`. */
function readTrust(cfg: PolicyConfig, configFile: string): { keys: KeyObject[]; ca?: Buffer } {
  // As rule files: relative to the config file (the embedded default has none: the working directory).
  const base = isAbsolute(configFile) || existsSync(configFile) ? dirname(resolve(configFile)) : process.cwd();
  const keys = cfg.public_key.flatMap((f, i) => {
    try {
      return readPublicKeys(resolve(base, f));
    } catch (err) {
      throw new ConfigError(configFile, `policy.public_key${cfg.public_key.length > 1 ? `[${i}]` : ''}`, `a PEM file of Ed25519 public keys (${errorMessage(err)})`, err);
    }
  });
  if (cfg.ca === undefined) return { keys };
  try {
    return { keys, ca: readRegularFileSync(resolve(base, cfg.ca)) };
  } catch (err) {
    throw new ConfigError(configFile, 'policy.ca', `a readable PEM file of CA certificates (${errorMessage(err)})`, err);
  }
}

export class CentralPolicy implements DetectionOverlay {
  readonly name = 'policy';
  private applied: OverlayBundle | undefined;
  /** A bundle being applied: what `current` hands the reload it triggered. */
  private candidate: OverlayBundle | undefined;
  private atStart: { envelope: Buffer; state: PolicyState } | undefined;
  private poller: PolicyPoller | undefined;
  private readonly keys: KeyObject[];
  private readonly ca: Buffer | undefined;
  private readonly logger: Logger;

  constructor(private readonly o: { config: PolicyConfig; configFile: string; stateDir: string; logger: Logger; userAgent: string }) {
    const trust = readTrust(o.config, o.configFile);
    this.keys = trust.keys;
    this.ca = trust.ca;
    this.logger = o.logger.child({ component: 'policy' });
  }

  /** The last good bundle, read once at start (with the agent's first detection inputs). */
  async loadLastGood(): Promise<void> {
    let envelope: Buffer | undefined;
    try {
      envelope = readLastGood(this.o.stateDir, this.o.config.max_bytes);
    } catch (err) {
      this.logger.warn(`policy: the last good bundle cannot be read (${errorMessage(err)}); running without a policy until a fetch succeeds`);
      return;
    }
    if (envelope === undefined) {
      this.logger.info(`policy: no bundle applied yet; fetching ${displayUrl(this.o.config.url)}`);
      return;
    }
    const v = verifyEnvelope(envelope, this.keys);
    if (v.kind === 'refused') {
      this.logger.warn(`policy: the last good bundle in the state dir no longer verifies (${v.reason}); running without a policy until a fetch succeeds`);
      return;
    }
    try {
      this.applied = await this.validate(v.payload, v.header);
    } catch (err) {
      this.logger.warn(`policy: the last good bundle in the state dir is not valid here (${errorMessage(err)}); running without a policy until a fetch succeeds`);
      return;
    }
    let stored: PolicyState | undefined;
    try {
      stored = readPolicyState(this.o.stateDir);
    } catch (err) {
      this.logger.warn(`policy: ${errorMessage(err)}; its state is taken from the bundle`);
    }
    const state: PolicyState = stored?.version === v.header.version && stored.created === v.header.created
      ? stored
      : { version: v.header.version, created: v.header.created, keyId: v.keyId, appliedAt: new Date().toISOString(), source: displayUrl(this.o.config.url) };
    this.atStart = { envelope, state };
    this.logger.info(`policy ${v.header.version} (last good bundle, signed by ${v.keyId}): ${summaryOf(this.applied)}`);
  }

  current(): OverlayBundle | undefined {
    return this.candidate ?? this.applied;
  }

  status(): PolicyStatus {
    return this.poller?.status() ?? (this.atStart === undefined ? {} : { version: this.atStart.state.version, created: this.atStart.state.created });
  }

  private async validate(payload: Buffer, header: BundleHeader): Promise<OverlayBundle> {
    const o = await validateBundleIsolated(payload, `policy bundle ${header.version}`);
    if (o.workerError !== undefined) this.logger.warn(`policy bundle validated in-process (the worker failed: ${o.workerError})`);
    return { version: o.version, rules: o.rules, allowlist: o.allowlist, sensitivePorts: o.sensitivePorts, disabledRules: o.disabledRules };
  }

  private async apply(hooks: PolicyHooks, payload: Buffer, header: BundleHeader): Promise<ApplyResult> {
    let bundle: OverlayBundle;
    try {
      bundle = await this.validate(payload, header);
    } catch (err) {
      if (err instanceof ConfigError) return { kind: 'refused', reason: `signed, but its content is invalid: ${err.message}` };
      throw err;
    }
    this.candidate = bundle;
    let r: ReloadResult;
    try {
      r = await hooks.reload(`policy ${header.version}`);
    } finally {
      this.candidate = undefined;
    }
    if (r.kind === 'refused') {
      // The local config is broken right now: not the bundle's fault; it is tried again later.
      return { kind: 'deferred', reason: `the reload was refused (${r.file}: ${r.keyPath === '' ? '(top level)' : r.keyPath}: ${r.expected})` };
    }
    this.applied = bundle;
    return { kind: 'applied', summary: summaryOf(bundle) };
  }

  /** Starts polling (the first fetch at once, in the background). */
  start(hooks: PolicyHooks): Promise<void> {
    const c = this.o.config;
    this.poller = new PolicyPoller({
      url: c.url, keys: this.keys, ...(this.ca === undefined ? {} : { ca: this.ca }), intervalMs: c.interval, timeoutMs: c.timeout, maxBytes: c.max_bytes,
      userAgent: this.o.userAgent, stateDir: this.o.stateDir, ...(this.atStart === undefined ? {} : { current: this.atStart }),
      apply: (payload, header) => this.apply(hooks, payload, header),
      report: (r) => { void this.report(hooks, r); },
    });
    return this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller?.shutdown();
  }

  private async report(hooks: PolicyHooks, r: PolicyReport): Promise<void> {
    const source = displayUrl(this.o.config.url);
    let doc: EcsDocument | undefined;
    switch (r.kind) {
      case 'applied': {
        const s = r.state;
        this.logger.info(`policy ${s.version} applied (created ${s.created}, signed by ${s.keyId}): ${r.summary}`);
        doc = hooks.agentEvent({
          action: Action.policyApplied, message: `portwarden applied policy ${s.version} (${r.summary})`,
          fields: { portwarden: { policy: { version: s.version, created: s.created, key_id: s.keyId, source, outcome: 'applied', summary: r.summary } } },
        });
        break;
      }
      case 'refused':
        this.logger.error(`policy bundle${r.version === undefined ? '' : ` ${r.version}`} refused, not applied (still on ${this.applied?.version ?? 'no policy'}): ${r.reason}`);
        doc = hooks.agentEvent({
          action: Action.policyRefused, severity: 73,
          message: `portwarden refused a policy bundle${r.version === undefined ? '' : ` (${r.version})`}: ${r.reason}`,
          fields: { portwarden: { policy: { ...(r.version === undefined ? {} : { version: r.version }), applied_version: this.applied?.version ?? null, source, outcome: 'refused', reason: r.reason } } },
        });
        break;
      case 'deferred':
        this.logger.warn(`policy bundle ${r.version} not applied yet: ${r.reason}`);
        break;
      case 'unreachable':
        this.logger.warn(`policy server unreachable (${r.reason}); keeping ${this.applied?.version ?? 'no policy'} and retrying`);
        doc = hooks.agentEvent({
          action: Action.policyUnreachable, severity: 21,
          message: `portwarden cannot fetch its policy (${r.reason}); keeping ${this.applied?.version ?? 'no policy'}`,
          fields: { portwarden: { policy: { applied_version: this.applied?.version ?? null, source, outcome: 'unreachable', reason: r.reason } } },
        });
        break;
      case 'reachable':
        this.logger.info(`policy server reachable again (${source})`);
        break;
      case 'unsaved':
        this.logger.warn(`policy ${r.version} applied, but not saved in the state dir (${r.reason}); a restart uses the previous bundle until a fetch succeeds`);
        doc = hooks.agentEvent({
          action: Action.policySaveFailed, severity: 21,
          message: `portwarden applied policy ${r.version} but could not save it (${r.reason})`,
          fields: { portwarden: { policy: { version: r.version, source, outcome: 'save_failed', reason: r.reason } } },
        });
        break;
    }
    if (doc === undefined) return;
    try {
      await hooks.accept(doc);
    } catch (err) {
      this.logger.warn(`policy event not accepted: ${errorMessage(err)}`);
    }
  }
}
