import type { TestContext } from 'node:test';
import { SyslogTransport } from '../../../transports/syslog/index.js';
import { syslogConfigSchema } from '../../../transports/syslog/config.js';
import type { OutboundEvent, SendResult, TransportContext } from '../../../transports/types.js';
import { testContext } from '../../../testkit/samples/syslog.js';

/** A syslog transport from raw config (validated by the real schema), shut down after the test. */
export async function makeSyslog(t: TestContext, raw: Record<string, unknown>, ctx?: Partial<TransportContext>): Promise<SyslogTransport> {
  const cfg = syslogConfigSchema.parse({ type: 'syslog', host: '127.0.0.1', ...raw });
  const tr = new SyslogTransport(cfg, testContext(ctx));
  t.after(() => tr.shutdown());
  await tr.start();
  return tr;
}

export function send(tr: SyslogTransport, batch: readonly OutboundEvent[]): Promise<SendResult> {
  return tr.send(batch, AbortSignal.timeout(20_000));
}

/**
 * What the pipeline does, reduced to a loop: send until `ok`, backing off `backoffMs` between
 * attempts, for at most `ms`. Returns every non-ok result seen on the way.
 */
export async function sendUntilOk(
  tr: SyslogTransport, batch: readonly OutboundEvent[], ms = 60_000, backoffMs = 200,
): Promise<SendResult[]> {
  const failures: SendResult[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await send(tr, batch);
    if (r.kind === 'ok') return failures;
    failures.push(r);
    if (Date.now() > deadline) throw new Error(`still not delivered after ${ms} ms: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, backoffMs));
  }
}

/** The reason of a `paused` result; fails the test with the actual result otherwise. */
export function pausedReason(r: SendResult): string {
  if (r.kind !== 'paused') throw new Error(`expected paused, got ${JSON.stringify(r)}`);
  return r.reason;
}
