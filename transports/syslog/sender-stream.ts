import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { SendResult } from '../types.js';
import { tlsClientOptions } from '../shared/tls.js';
import type { Sender, SenderOptions, SenderStats } from './sender.js';
import { classify, onAbort, timeout } from './sender.js';

interface Conn {
  socket: Socket;
  /** Set by 'error', 'end' or 'close': the connection can no longer be trusted. */
  lost: Error | undefined;
}

/**
 * TCP or TLS stream to the syslog server. Syslog has no application-level acknowledgement, so the
 * last `resendWindowBytes` of frames stay in memory; when a connection is lost (peer closed or
 * reset it, a write failed, a send was aborted), the next connection first re-sends that window.
 * Delivery is therefore at least once, with duplicates counted in `stats().resent`.
 */
export class StreamSender implements Sender {
  private conn: Conn | undefined;
  private window: Buffer[] = [];
  private windowBytes = 0;
  private replayPending = false;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly counters: SenderStats = { reconnects: 0, resent: 0 };

  constructor(private readonly opts: SenderOptions) {}

  stats(): SenderStats {
    return { ...this.counters };
  }

  write(frames: readonly Buffer[], signal: AbortSignal): Promise<SendResult> {
    // Sends are serialised: frames must reach the stream in the order the pipeline gave them.
    const run = this.chain.then(() => this.writeNow(frames, signal));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async writeNow(frames: readonly Buffer[], signal: AbortSignal): Promise<SendResult> {
    if (this.closed) return { kind: 'retryable', reason: 'syslog output is shut down' };
    if (signal.aborted) return { kind: 'retryable', reason: 'aborted' };
    let conn = this.conn;
    if (conn?.lost !== undefined) { this.drop(conn); conn = undefined; }
    let replay: Buffer[] = [];
    if (conn === undefined) {
      const c = await this.connect(signal);
      if ('kind' in c) return c;
      conn = c;
      if (this.replayPending) {
        replay = this.window;
        this.counters.reconnects++;
      }
    }
    const payload = Buffer.concat([...replay, ...frames]);
    const res = await this.writeTo(conn, payload, signal);
    if (res.kind !== 'ok') { this.drop(conn); return res; }
    this.counters.resent += replay.length;
    this.replayPending = false;
    this.remember(frames);
    return res;
  }

  /** Keeps the newest frames, at most `resendWindowBytes` of them. */
  private remember(frames: readonly Buffer[]): void {
    if (this.opts.resendWindowBytes <= 0) return;
    for (const f of frames) { this.window.push(f); this.windowBytes += f.length; }
    while (this.windowBytes > this.opts.resendWindowBytes && this.window.length > 0) {
      this.windowBytes -= this.window.shift()?.length ?? 0;
    }
  }

  private writeTo(conn: Conn, payload: Buffer, signal: AbortSignal): Promise<SendResult> {
    const what = `write to ${this.opts.host}:${this.opts.port}`;
    const abort = onAbort(signal);
    let onClose: () => void = () => undefined;
    const written = new Promise<SendResult>((resolve) => {
      onClose = () => { resolve(classify(conn.lost ?? new Error('connection closed'), what)); };
      conn.socket.once('close', onClose);
      conn.socket.write(payload, (err) => {
        if (err != null) resolve(classify(err, what));
        else if (conn.lost !== undefined) resolve(classify(conn.lost, what));
        else resolve({ kind: 'ok' });
      });
    });
    return Promise.race([written, abort.promise]).then((r) => {
      abort.dispose();
      conn.socket.off('close', onClose);
      return r === 'aborted' ? { kind: 'retryable', reason: 'aborted' } : r;
    });
  }

  private async connect(signal: AbortSignal): Promise<Conn | SendResult> {
    const { host, port, protocol } = this.opts;
    const what = `connect to ${host}:${port} (${protocol})`;
    let socket: Socket;
    try {
      socket = protocol === 'tls'
        ? tlsConnect({ host, port, ...(await tlsClientOptions(this.opts.tls, host)) })
        : netConnect({ host, port });
    } catch (err) {
      return classify(err, what);
    }
    const conn: Conn = { socket, lost: undefined };
    const ready = new Promise<SendResult | 'ready'>((resolve) => {
      socket.once(protocol === 'tls' ? 'secureConnect' : 'connect', () => { resolve('ready'); });
      socket.once('error', (err) => { resolve(classify(err, what)); });
    });
    socket.on('error', (err) => { conn.lost ??= err; });
    socket.on('end', () => { conn.lost ??= new Error('connection closed by the server'); });
    socket.on('close', () => { conn.lost ??= new Error('connection closed'); });
    const abort = onAbort(signal);
    const t = timeout(this.opts.connectTimeoutMs);
    const r = await Promise.race([ready, abort.promise, t.promise]);
    abort.dispose();
    t.cancel();
    if (r !== 'ready') {
      socket.destroy();
      if (r === 'aborted') return { kind: 'retryable', reason: 'aborted' };
      if (r === 'timeout') return { kind: 'retryable', reason: `${what}: timed out after ${this.opts.connectTimeoutMs} ms` };
      return r;
    }
    socket.setNoDelay(true);
    if (this.opts.keepaliveMs > 0) socket.setKeepAlive(true, this.opts.keepaliveMs);
    this.conn = conn;
    return conn;
  }

  /** Forgets a connection that failed; the next connection replays the window. */
  private drop(conn: Conn): void {
    conn.socket.destroy();
    if (this.conn === conn) this.conn = undefined;
    this.replayPending = this.window.length > 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    const conn = this.conn;
    this.conn = undefined;
    if (conn === undefined || conn.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => { conn.socket.once('close', () => { resolve(); }); });
    conn.socket.end();
    const t = timeout(2000);
    await Promise.race([closed, t.promise]);
    t.cancel();
    conn.socket.destroy();
  }
}
