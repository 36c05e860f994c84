/**
 * The running agent's side of the central policy: fetches the bundle every `policy.interval`
 * (jittered, so a fleet does not knock at once), verifies it against the pinned keys, and hands a
 * verified, newer bundle to `apply` (the agent's reload path, which validates its content in the
 * start-up worker). A bundle is saved as the last good one only once it was applied. Nothing that
 * failed verification or validation is ever applied; each refusal and each change of reachability is
 * reported once, not at every poll.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { errorMessage } from '../util/errors.js';
import { Backoff } from '../pipeline/backoff.js';
import { verifyEnvelope } from './envelope.js';
import type { BundleHeader } from './envelope.js';
import { fetchBundle } from './fetch.js';
import type { FetchOptions, FetchResult } from './fetch.js';
import { displayUrl, saveLastGood } from './store.js';
import type { PolicyState } from './store.js';

/**
 * `refused`: the bundle itself is unusable (not tried again until it changes); `deferred`: it could
 * not be applied now for a reason of the agent's (its local config is broken), tried again later.
 */
export type ApplyResult = { kind: 'applied'; summary: string } | { kind: 'refused'; reason: string } | { kind: 'deferred'; reason: string };

/** What the poller tells the agent (which logs it and emits it in-band). */
export type PolicyReport =
  | { kind: 'applied'; state: PolicyState; summary: string }
  | { kind: 'refused'; reason: string; version?: string }
  | { kind: 'deferred'; reason: string; version: string }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'reachable' }
  /** Applied, but not saved in the state dir: the next start uses the previous bundle until a fetch succeeds. */
  | { kind: 'unsaved'; reason: string; version: string };

export interface PollerOptions {
  url: string;
  keys: readonly KeyObject[];
  ca?: Buffer;
  intervalMs: number;
  timeoutMs: number;
  maxBytes: number;
  userAgent: string;
  stateDir: string;
  /** The bundle applied at start (the last good one), if any. */
  current?: { state: PolicyState; envelope: Buffer };
  /** Applies a verified bundle's payload (validating its content first). */
  apply(payload: Buffer, header: BundleHeader): Promise<ApplyResult>;
  report(r: PolicyReport): void;
  /** Tests replace the fetch; the agent never does. */
  fetch?: (o: FetchOptions) => Promise<FetchResult>;
  /** Tests wrap the save (to hold one back); the agent never does. */
  save?: typeof saveLastGood;
  random?: () => number;
}

/** What `portwarden status` shows of the policy. */
export interface PolicyStatus {
  version?: string;
  created?: string;
  appliedAt?: string;
  lastCheck?: string;
  lastError?: string;
}

const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export type PollOutcome = 'applied' | 'unchanged' | 'not-modified' | 'refused' | 'deferred' | 'failed';

export class PolicyPoller {
  private state: PolicyState | undefined;
  private appliedDigest: string | undefined;
  private refusedDigest: string | undefined;
  /** Why that bundle was refused: the last error again whenever the server still serves it. */
  private refusedError: string | undefined;
  private failing = false;
  private deferred: string | undefined;
  private lastCheck: string | undefined;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<unknown> | undefined;
  /** The saves of applied bundles, one after the other; never rejects. */
  private saving: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly backoff: Backoff;
  private readonly random: () => number;

  constructor(private readonly o: PollerOptions) {
    this.state = o.current?.state;
    this.appliedDigest = o.current === undefined ? undefined : digest(o.current.envelope);
    this.random = o.random ?? Math.random;
    this.backoff = new Backoff({ initial: Math.min(5_000, o.intervalMs), max: o.intervalMs, breaker_threshold: Number.MAX_SAFE_INTEGER }, this.random);
  }

  /** The first fetch happens at once (in the background); start never waits for the server. */
  start(): Promise<void> {
    this.schedule(0);
    return Promise.resolve();
  }

  status(): PolicyStatus {
    return {
      ...(this.state === undefined ? {} : { version: this.state.version, created: this.state.created, appliedAt: this.state.appliedAt }),
      ...(this.lastCheck === undefined ? {} : { lastCheck: this.lastCheck }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  /** Idempotent; waits for a fetch or an apply under way, and for the saves. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inflight;
    await this.saved();
  }

  /** Resolves once every bundle applied so far is saved (or its save failed and was reported). */
  saved(): Promise<void> {
    return this.saving;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const run = this.pollOnce().catch((): PollOutcome => 'failed').then((outcome) => {
        this.schedule(outcome === 'failed' ? this.backoff.next() : this.jittered());
      });
      this.inflight = run;
    }, ms);
    this.timer.unref();
  }

  /** interval ± 10 %. */
  private jittered(): number {
    return Math.round(this.o.intervalMs * (0.9 + 0.2 * this.random()));
  }

  /** One fetch and what follows from it. Never rejects. */
  async pollOnce(): Promise<PollOutcome> {
    const fetch = this.o.fetch ?? fetchBundle;
    const r = await fetch({
      url: this.o.url, timeoutMs: this.o.timeoutMs, maxBytes: this.o.maxBytes, userAgent: this.o.userAgent,
      ...(this.o.ca === undefined ? {} : { ca: this.o.ca }),
      ...(this.state?.etag === undefined ? {} : { etag: this.state.etag }),
    });
    this.lastCheck = new Date().toISOString();
    if (r.kind === 'failed') {
      this.lastError = r.reason;
      if (!this.failing) this.o.report({ kind: 'unreachable', reason: r.reason });
      this.failing = true;
      return 'failed';
    }
    this.backoff.succeed();
    if (this.failing) this.o.report({ kind: 'reachable' });
    this.failing = false;
    if (r.kind === 'not-modified') {
      this.lastError = undefined;
      return 'not-modified';
    }
    const d = digest(r.body);
    // A server without ETags (or one that changed its ETag only) costs no re-apply either.
    if (d === this.appliedDigest) {
      this.lastError = undefined;
      if (this.state !== undefined && r.etag !== undefined) this.state.etag = r.etag;
      return 'unchanged';
    }
    // Still the bundle refused before: lastError says why (again, after a failed fetch in between).
    if (d === this.refusedDigest) {
      this.lastError = this.refusedError;
      return 'refused';
    }
    this.lastError = undefined;
    const outcome = await this.consider(r.body, r.etag);
    if (outcome === 'refused') this.refusedDigest = d;
    return outcome;
  }

  private refuse(reason: string, version?: string): 'refused' {
    this.lastError = this.refusedError = `bundle refused: ${reason}`;
    this.o.report({ kind: 'refused', reason, ...(version === undefined ? {} : { version }) });
    return 'refused';
  }

  private async consider(body: Buffer, etag: string | undefined): Promise<PollOutcome> {
    const v = verifyEnvelope(body, this.o.keys);
    if (v.kind === 'refused') return this.refuse(v.reason);
    const { header } = v;
    if (this.state !== undefined && Date.parse(header.created) < Date.parse(this.state.created)) {
      return this.refuse(`created ${header.created}, older than the applied bundle ${this.state.version} (${this.state.created}): a rollback is made by signing the old content again`, header.version);
    }
    let res: ApplyResult;
    try {
      res = await this.o.apply(v.payload, header);
    } catch (err) {
      // The agent stopping under a reload, a worker that could not run: tried again at the next poll.
      res = { kind: 'deferred', reason: errorMessage(err) };
    }
    if (res.kind === 'refused') return this.refuse(res.reason, header.version);
    if (res.kind === 'deferred') {
      this.lastError = `bundle ${header.version} not applied yet: ${res.reason}`;
      if (res.reason !== this.deferred) this.o.report({ kind: 'deferred', reason: res.reason, version: header.version });
      this.deferred = res.reason;
      return 'deferred';
    }
    this.deferred = undefined;
    const state: PolicyState = {
      version: header.version, created: header.created, keyId: v.keyId, appliedAt: new Date().toISOString(),
      source: displayUrl(this.o.url), ...(etag === undefined ? {} : { etag }),
    };
    this.state = state;
    this.appliedDigest = digest(body);
    this.refusedDigest = undefined;
    this.o.report({ kind: 'applied', state, summary: res.summary });
    this.save(body, state);
    return 'applied';
  }

  /**
   * Queues the save behind the ones before it, so an earlier bundle's slow write never lands after
   * a later one's. A failure (a full disk) is reported; the bundle stays applied.
   */
  private save(body: Buffer, state: PolicyState): void {
    const save = this.o.save ?? saveLastGood;
    this.saving = this.saving.then(() => save(this.o.stateDir, body, state)).catch((err: unknown) => {
      const reason = errorMessage(err);
      this.lastError = `bundle ${state.version} applied, but not saved in the state dir: ${reason}`;
      this.o.report({ kind: 'unsaved', reason, version: state.version });
    });
  }
}
