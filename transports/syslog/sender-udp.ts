import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { SendResult } from '../types.js';
import type { Sender, SenderOptions, SenderStats } from './sender.js';
import { classify } from './sender.js';

/**
 * UDP (RFC 5426): one message per datagram on a connected socket, at most once. A datagram the
 * kernel refuses (e.g. ICMP port unreachable reported on a later send) is retried through the
 * pipeline as part of a `partial` result; nothing confirms what the server received.
 */
export class UdpSender implements Sender {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;

  constructor(private readonly opts: SenderOptions) {}

  stats(): SenderStats {
    return { reconnects: 0, resent: 0, connected: this.socket !== undefined };
  }

  private open(): Promise<Socket> {
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.connecting ??= (async () => {
      const { address, family } = await lookup(this.opts.host);
      const sock = createSocket(family === 6 ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.connect(this.opts.port, address, () => { sock.off('error', reject); resolve(); });
      });
      // Asynchronous ICMP errors arrive as 'error' events; the next send reports them too.
      sock.on('error', () => undefined);
      sock.unref();
      this.socket = sock;
      return sock;
    })().finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  async write(frames: readonly Buffer[], signal: AbortSignal): Promise<SendResult> {
    const what = `send to ${this.opts.host}:${this.opts.port} (udp)`;
    if (signal.aborted) return { kind: 'retryable', reason: 'aborted' };
    let sock: Socket;
    try {
      sock = await this.open();
    } catch (err) {
      return classify(err, what);
    }
    const failed: number[] = [];
    let lastError: unknown;
    await Promise.all(frames.map((f, i) => new Promise<void>((resolve) => {
      sock.send(f, (err) => {
        if (err != null) { failed.push(i); lastError = err; }
        resolve();
      });
    })));
    if (failed.length === 0) return { kind: 'ok' };
    if (failed.length === frames.length) {
      this.reset();
      return classify(lastError, what);
    }
    return { kind: 'partial', retry: failed.sort((a, b) => a - b), rejected: [] };
  }

  private reset(): void {
    const s = this.socket;
    this.socket = undefined;
    try { s?.close(); } catch { /* already closed */ }
  }

  close(): Promise<void> {
    this.reset();
    return Promise.resolve();
  }
}
