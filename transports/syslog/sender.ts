import type { SendResult } from '../types.js';
import type { TlsConfig } from '../../config/types.js';
import { errorMessage } from '../../agent/util/errors.js';
import { tlsVerifyFailure } from '../shared/tls.js';

/** Counters a sender keeps; read through the transport's `stats()`. */
export interface SenderStats {
  /** Connections (re)established after a lost one. */
  reconnects: number;
  /** Frames written again from the unconfirmed window after a reconnect (possible duplicates). */
  resent: number;
  /** TCP/TLS: a connection is open and has not been seen to fail (UDP: the socket is open). */
  connected: boolean;
}

/**
 * Only I/O: writes already framed messages and classifies what went wrong. `write` resolves
 * (never rejects) `ok` once every frame was handed to the kernel on a connection that is still
 * open; it never retries or sleeps. `close` is idempotent and bounded.
 */
export interface Sender {
  write(frames: readonly Buffer[], signal: AbortSignal): Promise<SendResult>;
  close(): Promise<void>;
  stats(): SenderStats;
}

export interface SenderOptions {
  protocol: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  tls: TlsConfig;
  connectTimeoutMs: number;
  keepaliveMs: number;
  resendWindowMs: number;
  resendWindowBytes: number;
}

/**
 * Turns a connection or write error into a SendResult: TLS verification and configuration
 * failures pause the output (retrying cannot fix them), everything else is retryable.
 */
export function classify(err: unknown, what: string): SendResult {
  const tlsFailure = tlsVerifyFailure(err);
  if (tlsFailure !== undefined) return { kind: 'paused', reason: `${what}: ${tlsFailure}` };
  const code = (err as { code?: unknown }).code;
  if (code === 'TLS_CONFIG') return { kind: 'paused', reason: `${what}: ${errorMessage(err)}` };
  const prefix = typeof code === 'string' && !errorMessage(err).includes(code) ? `${code} ` : '';
  return { kind: 'retryable', reason: `${what}: ${prefix}${errorMessage(err)}` };
}

/** A promise that settles when `signal` aborts, with a way to stop listening. */
export function onAbort(signal: AbortSignal): { promise: Promise<'aborted'>; dispose: () => void } {
  let dispose: () => void = () => undefined;
  const promise = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) { resolve('aborted'); return; }
    const h = () => { resolve('aborted'); };
    signal.addEventListener('abort', h, { once: true });
    dispose = () => { signal.removeEventListener('abort', h); };
  });
  return { promise, dispose };
}

/** Resolves after `ms` (timer unref'd), or never when ms <= 0; `cancel` clears it. */
export function timeout(ms: number): { promise: Promise<'timeout'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((resolve) => {
    if (ms <= 0) return;
    timer = setTimeout(() => { resolve('timeout'); }, ms);
    timer.unref();
  });
  return { promise, cancel: () => { clearTimeout(timer); } };
}
