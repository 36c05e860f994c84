import type { Logger } from '../../agent/log/logger.js';
import { Throttle } from '../../agent/util/throttle.js';
import type { OutboundEvent, SendResult, Transport, TransportContext } from '../types.js';
import type { SyslogConfig } from './config.js';
import { effective } from './effective.js';
import type { EncodeContext } from './encoder-common.js';
import { encodeFrame, encodeStreamBatch } from './encoder.js';
import type { Framing } from './encoder.js';
import type { Sender, SenderStats } from './sender.js';
import { StreamSender } from './sender-stream.js';
import { UdpSender } from './sender-udp.js';

/** What the syslog output counts; the pipeline's metrics can read it through `stats()`. */
export interface SyslogStats extends SenderStats {
  /** Events acknowledged to the pipeline (`ok`). */
  sent: number;
  /** Messages cut to `max_message_bytes` (on a UTF-8 boundary). */
  truncated: number;
}

/** Events encoded and handed to a TCP/TLS connection at a time within one batch. */
const STREAM_SLICE = 100;

export class SyslogTransport implements Transport {
  readonly type = 'syslog';
  private readonly sender: Sender;
  private readonly enc: EncodeContext;
  private readonly framing: Framing;
  private readonly maxBytes: number;
  private readonly logger: Logger;
  private sent = 0;
  private truncated = 0;
  private truncatedUnreported = 0;
  private readonly truncatedWarning = new Throttle(() => Date.now());

  constructor(private readonly cfg: SyslogConfig, ctx: TransportContext) {
    const { port, maxBytes, facility } = effective(cfg);
    this.maxBytes = maxBytes;
    this.logger = ctx.logger;
    this.framing = cfg.protocol === 'udp' ? 'datagram' : cfg.framing;
    this.enc = { facility, appName: cfg.app_name, sdId: cfg.sd_id, procId: ctx.agentPid, hostName: ctx.hostName };
    const opts = {
      protocol: cfg.protocol, host: cfg.host, port, tls: cfg.tls,
      connectTimeoutMs: cfg.connect_timeout, keepaliveMs: cfg.keepalive, 
      resendWindowMs: cfg.resend_window, resendWindowBytes: cfg.resend_window_bytes,
    };
    this.sender = cfg.protocol === 'udp' ? new UdpSender(opts) : new StreamSender(opts);
  }

  stats(): SyslogStats {
    return { ...this.sender.stats(), sent: this.sent, truncated: this.truncated };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    let res: SendResult;
    let cut = 0;
    if (this.framing === 'datagram') {
      const frames: Buffer[] = [];
      for (const ev of batch) {
        const f = encodeFrame(this.cfg.format, this.framing, this.enc, ev, this.maxBytes);
        frames.push(f.bytes);
        if (f.truncated) cut++;
      }
      res = await this.sender.write(frames, signal);
    } else {
      // In slices: a slice is on its way to the server while the next one is encoded, so the
      // server is not left idle while a large batch is encoded (the sender keeps them in order).
      // A failed slice fails the batch and no later slice is written; slices already written may
      // then arrive twice (delivery is at least once).
      res = { kind: 'ok' };
      let inFlight: Promise<SendResult> | undefined;
      for (let i = 0; i < batch.length; i += STREAM_SLICE) {
        const enc = encodeStreamBatch(this.cfg.format, this.framing, this.enc, batch.slice(i, i + STREAM_SLICE), this.maxBytes);
        cut += enc.truncated;
        if (inFlight !== undefined) {
          res = await inFlight;
          if (res.kind !== 'ok') { inFlight = undefined; break; }
        }
        inFlight = this.sender.write(enc.frames, signal);
        // Let the sender hand this slice to the socket before the next one is encoded.
        if (i + STREAM_SLICE < batch.length) await new Promise<void>((r) => { setImmediate(r); });
      }
      if (inFlight !== undefined) res = await inFlight;
    }
    // Truncation is counted once per delivered message, not per attempt.
    if (res.kind === 'ok') {
      this.sent += batch.length;
      this.noteTruncated(cut);
    } else if (res.kind === 'partial') {
      this.sent += batch.length - res.retry.length - res.rejected.length;
    }
    return res;
  }

  private noteTruncated(n: number): void {
    this.truncated += n;
    this.truncatedUnreported += n;
    this.reportTruncated(false);
  }

  /** One line per WARN_INTERVAL_MS while messages are cut; `force` at shutdown, for the rest. */
  private reportTruncated(force: boolean): void {
    if (this.truncatedUnreported === 0) return;
    const r = this.truncatedWarning.release(force);
    if (r === undefined) return;
    const since = r.sinceMs === undefined ? 'so far' : `in the last ${Math.round(r.sinceMs / 1000)} s`;
    this.logger.warn(
      `syslog: truncated ${this.truncatedUnreported.toLocaleString('en-US')} messages to max_message_bytes=${this.maxBytes} ${since}`,
      { truncated: this.truncatedUnreported, max_message_bytes: this.maxBytes },
    );
    this.truncatedUnreported = 0;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    this.reportTruncated(true);
    await this.sender.close();
  }
}

/** The syslog output (UDP, or TCP/TLS with reconnects and the resend window). */
export function createSyslogTransport(config: SyslogConfig, ctx: TransportContext): SyslogTransport {
  return new SyslogTransport(config, ctx);
}
