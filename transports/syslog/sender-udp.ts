import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { SendResult } from '../types.js';
import type { Sender, SenderOptions, SenderStats } from './sender.js';
import { classify } from './sender.js';

/**
 * UDP (RFC 5426): one message per datagram on a connected socket, at most once: nothing confirms
 * what the server received. When the server's host answers "port unreachable" (ICMP, reported by
 * the kernel as ECONNREFUSED), the next send is `retryable`, so the pipeline backs off while
 * the server is down instead of writing datagrams into the void.
 */
export class UdpSender implements Sender {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private asyncError: Error | undefined;

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
      // ICMP port-unreachable comes back as an asynchronous 'error' (ECONNREFUSED): keep it so
      // the next send reports the outage instead of writing into the void.
      sock.on('error', (err) => { this.asyncError = err; });
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
    const refused = this.asyncError;
    if (refused !== undefined) {
      this.asyncError = undefined;
      this.reset();
      return classify(refused, what);
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
