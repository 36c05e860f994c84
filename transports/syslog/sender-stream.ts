import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import type { SendResult } from '../types.js';
import { tlsClientOptions } from '../shared/tls.js';
import type { Sender, SenderOptions, SenderStats } from './sender.js';
import { classify, onAbort, timeout } from './sender.js';

interface Conn {
  socket: Socket;
  /** Set by 'error', 'end' or 'close': the connection can no longer be trusted. */
  lost: Error | undefined;
  lostAt: number;
  /** TLS 1.3: whether the server accepted us (session ticket) or refused the client certificate. */
  verdict?: Promise<SendResult | undefined> | undefined;
}

interface Written {
  bytes: Buffer;
  at: number;
}

/**
 * TCP or TLS stream to the syslog server. Syslog has no application-level acknowledgement, so a
 * written frame stays *unconfirmed* until its connection has stayed up `resendWindowMs` after the
 * write. When a connection is lost (peer closed or reset it, a write failed, a send was aborted),
 * the next connection first re-sends the frames written in the last `resendWindowMs` before the
 * loss: delivery is at least once, with the re-sent frames counted in `stats().resent`. When the
 * unconfirmed frames reach `resendWindowBytes`, sends answer `retryable` until some are confirmed
 * (a connection that keeps dropping right after each write must not push frames out unsent).
 */
export class StreamSender implements Sender {
  private conn: Conn | undefined;
  private window: Written[] = [];
  private windowBytes = 0;
  private replayPending = false;
  private lastReplayAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly counters = { reconnects: 0, resent: 0 };

  constructor(private readonly opts: SenderOptions, private readonly now: () => number = Date.now) {}

  stats(): SenderStats {
    return { ...this.counters, connected: this.conn !== undefined && this.conn.lost === undefined };
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
    if (conn !== undefined) this.confirm(this.now());
    const size = frames.reduce((n, f) => n + f.length, 0);
    const over = this.windowBytes > 0 && this.windowBytes + size > this.opts.resendWindowBytes;
    // On a connection that has not dropped lately, the oldest frames make room (they left the
    // kernel long ago); right after a replay the connection is suspect and the batch must wait.
    const full = over && (this.replayPending || this.now() - this.lastReplayAt < this.opts.resendWindowMs);
    if (over && !full) this.trim(this.opts.resendWindowBytes - size);
    const fullReason = `${this.windowBytes} bytes written in the last ${this.opts.resendWindowMs} ms are not yet confirmed (connection unstable)`;
    if (full && conn !== undefined) return { kind: 'retryable', reason: fullReason };
    let replay: Written[] = [];
    if (conn === undefined) {
      const c = await this.connect(signal);
      if ('kind' in c) return c;
      conn = c;
      if (this.replayPending) {
        replay = this.window;
        this.counters.reconnects++;
      }
    }
    // With the window full, a new connection carries only the replay; this batch waits for it.
    const fresh = full ? [] : frames;
    const res = await this.writeTo(conn, joined([...replay.map((w) => w.bytes), ...fresh]), signal);
    const verdict = res.kind === 'ok' && conn.verdict !== undefined ? await conn.verdict : undefined;
    conn.verdict = undefined;
    if (verdict !== undefined) { this.drop(conn); return verdict; }
    if (res.kind !== 'ok') { this.drop(conn); return res; }
    const at = this.now();
    this.counters.resent += replay.length;
    if (replay.length > 0) this.lastReplayAt = at;
    for (const w of replay) w.at = at;
    if (this.opts.resendWindowMs > 0) {
      for (const f of fresh) { this.window.push({ bytes: f, at }); this.windowBytes += f.length; }
    }
    this.replayPending = false;
    return full ? { kind: 'retryable', reason: fullReason } : res;
  }

  /** Drops the oldest frames until at most `bytes` remain. */
  private trim(bytes: number): void {
    let k = 0;
    while (this.windowBytes > Math.max(bytes, 0) && k < this.window.length) {
      this.windowBytes -= this.window[k++]?.bytes.length ?? 0;
    }
    if (k > 0) this.window.splice(0, k);
  }

  /** Forgets frames whose connection has stayed up `resendWindowMs` since they were written. */
  private confirm(now: number): void {
    let k = 0;
    while (k < this.window.length && (this.window[k]?.at ?? now) <= now - this.opts.resendWindowMs) {
      this.windowBytes -= this.window[k++]?.bytes.length ?? 0;
    }
    if (k > 0) this.window.splice(0, k);
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
    const conn: Conn = { socket, lost: undefined, lostAt: 0 };
    // Listen from the start: the ticket may arrive in the same read as the handshake's end.
    const ticket = new Promise<undefined>((resolve) => { socket.once('session', () => { resolve(undefined); }); });
    const ready = new Promise<SendResult | 'ready'>((resolve) => {
      socket.once(protocol === 'tls' ? 'secureConnect' : 'connect', () => { resolve('ready'); });
      socket.once('error', (err) => { resolve(classify(err, what)); });
    });
    const lose = (err: Error) => {
      if (conn.lost !== undefined) return;
      conn.lost = err;
      conn.lostAt = this.now();
    };
    socket.on('error', lose);
    socket.on('end', () => { lose(new Error('connection closed by the server')); });
    socket.on('close', () => { lose(new Error('connection closed')); });
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
    if (socket instanceof TLSSocket && socket.getProtocol() === 'TLSv1.3') {
      // Not awaited here: the first batch goes out at once (rsyslog's ossl driver garbles data that
      // arrives while it is still sending tickets) and its `ok` waits for this verdict.
      conn.verdict = conn.lost !== undefined ? Promise.resolve(classify(conn.lost, what)) : acceptedByServer(socket, ticket, what);
    }
    if (this.closed) {
      socket.destroy();
      return { kind: 'retryable', reason: 'syslog output is shut down' };
    }
    socket.setNoDelay(true);
    if (this.opts.keepaliveMs > 0) socket.setKeepAlive(true, this.opts.keepaliveMs);
    this.conn = conn;
    return conn;
  }

  /** Forgets a connection that failed; frames written shortly before the loss are replayed next. */
  private drop(conn: Conn): void {
    conn.socket.destroy();
    if (this.conn === conn) this.conn = undefined;
    this.confirm(conn.lostAt > 0 ? conn.lostAt : this.now());
    this.replayPending = this.window.length > 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    // An in-flight send gets a moment to finish; after that its socket is destroyed under it,
    // which resolves it as retryable (never acknowledged).
    const grace = timeout(2000);
    await Promise.race([this.chain, grace.promise]);
    grace.cancel();
    const conn = this.conn;
    this.conn = undefined;
    if (conn === undefined || conn.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => { conn.socket.once('close', () => { resolve(); }); });
    conn.socket.end();
    const t = timeout(1000);
    await Promise.race([closed, t.promise]);
    t.cancel();
    conn.socket.destroy();
  }
}

/**
 * The frames as one buffer: when they are consecutive views into one buffer (a batch encoded by
 * encodeStreamBatch), that span itself, without copying; otherwise a copy.
 */
export function joined(frames: readonly Buffer[]): Buffer {
  const first = frames[0];
  if (first === undefined) return Buffer.alloc(0);
  let end = first.byteOffset + first.length;
  for (let i = 1; i < frames.length; i++) {
    const f = frames[i] as Buffer;
    if (f.buffer !== first.buffer || f.byteOffset !== end) return Buffer.concat(frames);
    end += f.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** How long to wait for the server's TLS 1.3 session ticket before trusting the connection anyway. */
const TICKET_WAIT_MS = 1000;

/**
 * In TLS 1.3 the server checks the client certificate after the client considers the handshake
 * done, so a refused certificate would only show up after the first batch was "written". Servers
 * (OpenSSL, hence rsyslog's ossl driver) send a session ticket once they accept the client, or an
 * alert when they refuse it: wait for one of them (bounded, for servers that send no tickets).
 */
async function acceptedByServer(
  socket: TLSSocket, ticket: Promise<undefined>, what: string,
): Promise<SendResult | undefined> {
  const t = timeout(TICKET_WAIT_MS);
  let onError: (err: Error) => void = () => undefined;
  let onClose: () => void = () => undefined;
  const verdict = new Promise<SendResult | undefined>((resolve) => {
    onError = (err) => { resolve(classify(err, what)); };
    onClose = () => { resolve({ kind: 'retryable', reason: `${what}: closed by the server right after the handshake` }); };
    void ticket.then(resolve);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
  const r = await Promise.race([verdict, t.promise]);
  t.cancel();
  socket.off('error', onError);
  socket.off('close', onClose);
  return r === 'timeout' ? undefined : r;
}
