import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One record as kcat consumed it from the mock cluster. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  headers: Record<string, string>;
  payload: string;
}

export interface MockClusterOptions {
  /** Topics to consume (one: `-C -t`; several: a consumer group over all of them). */
  topics: string[];
  brokers?: number;
  /** Pass `-X debug=mock` (very chatty; only for diagnosing a test). */
  debug?: boolean;
  /** ms to wait for the `bootstrap.servers=` line. */
  startTimeoutMs?: number;
}

/**
 * librdkafka's mock cluster, run inside a kcat consumer: a real Kafka protocol peer on loopback
 * ports chosen at run time. Collects what kcat consumes (JSON envelope, `-J`) in `messages`.
 */
export class MockCluster {
  readonly messages: ConsumedMessage[] = [];
  readonly stderr: string[] = [];
  private exited = false;

  private constructor(private readonly child: ChildProcess, readonly bootstrap: string[]) {
    // If the test process dies without close(), do not leave a (possibly SIGSTOPped) kcat behind.
    const onExit = () => { child.kill('SIGKILL'); };
    process.once('exit', onExit);
    child.once('exit', () => {
      this.exited = true;
      process.removeListener('exit', onExit);
    });
  }

  static async start(opts: MockClusterOptions): Promise<MockCluster> {
    const [first, ...more] = opts.topics;
    if (first === undefined) throw new Error('MockCluster needs at least one topic');
    const args = ['-X', `test.mock.num.brokers=${String(opts.brokers ?? 3)}`, '-b', 'localhost:1', '-u', '-J', '-o', 'beginning'];
    if (opts.debug === true) args.push('-X', 'debug=mock');
    if (more.length === 0) args.push('-C', '-t', first);
    else args.push('-X', 'auto.offset.reset=earliest', '-G', `pw-test-${String(process.pid)}`, ...opts.topics);
    const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    const bootstrap = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => { fail(new Error(`kcat printed no bootstrap.servers: ${stderr.join('\n').slice(0, 2000)}`)); }, opts.startTimeoutMs ?? 10_000);
      const fail = (err: Error) => { clearTimeout(timer); child.kill('SIGKILL'); reject(err); };
      child.once('error', fail);
      child.once('exit', (code) => { fail(new Error(`kcat exited (${String(code)}): ${stderr.join('\n').slice(0, 2000)}`)); });
      createInterface({ input: child.stderr }).on('line', (line) => {
        if (stderr.length < 500) stderr.push(line);
        const m = /(?:bootstrap\.servers=|replaced with )([\d.:,[\]]+)/.exec(line);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve(m[1].split(','));
        }
      });
    });
    const cluster = new MockCluster(child, bootstrap);
    cluster.stderr.push(...stderr);
    createInterface({ input: child.stdout }).on('line', (line) => { cluster.onLine(line); });
    return cluster;
  }

  private onLine(line: string): void {
    const j = JSON.parse(line) as { topic: string; partition: number; offset: number; key: string | null; payload: string; headers?: string[] };
    const headers: Record<string, string> = {};
    const h = j.headers ?? [];
    for (let i = 0; i + 1 < h.length; i += 2) headers[h[i] ?? ''] = h[i + 1] ?? '';
    this.messages.push({ topic: j.topic, partition: j.partition, offset: j.offset, key: j.key, headers, payload: j.payload });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves when `pred(messages)` holds; rejects after `timeoutMs` with what arrived so far. */
  async waitFor(pred: (msgs: readonly ConsumedMessage[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.messages)) {
      if (this.exited) throw new Error(`kcat exited; ${String(this.messages.length)} messages consumed`);
      if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms with ${String(this.messages.length)} messages consumed`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Freezes the whole cluster (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void { this.child.kill('SIGSTOP'); }

  thaw(): void { this.child.kill('SIGCONT'); }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  }
}
