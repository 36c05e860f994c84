/** One part of the running agent as the composition root starts and stops it. */
export interface Stage {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The agent's parts in start order, declared once: `start()` starts them in order, `stop()` stops
 * the started ones in reverse, so a part never outlives what it feeds (the watcher stops before
 * detection, detection before the pipeline, the pipeline last, once everything is handed to it).
 */
export class Stages {
  private started: Stage[] = [];

  constructor(private readonly stages: readonly Stage[]) {}

  names(): string[] {
    return this.stages.map((s) => s.name);
  }

  /**
   * Starts the stages in order. Once `abort` fires (a stop signal during start-up), no further stage
   * starts and the one still starting is no longer waited for (it may wait for room in a full spool
   * for as long as the output is down); it counts as started, so stop() stops it with the others.
   */
  async start(abort?: AbortSignal): Promise<void> {
    for (const s of this.stages) {
      const starting = s.start();
      const gaveUp = abort === undefined ? false : await untilAborted(starting, abort);
      this.started.push(s);
      if (gaveUp) {
        // Its stop() ends the wait; what the start then throws (the pipeline stopped) is expected.
        starting.catch(() => undefined);
        return;
      }
      if (abort?.aborted === true) return;
    }
  }

  /** The stage whose stop() is under way, if any (named when a shutdown runs past its budget). */
  stopping: string | undefined;

  /**
   * Idempotent: a second call stops nothing. `took` hears how long each stage took to stop (the
   * agent logs it at debug level: where a slow shutdown spends its time).
   */
  async stop(took?: (name: string, ms: number) => void): Promise<void> {
    const started = this.started.reverse();
    this.started = [];
    for (const s of started) {
      const t0 = Date.now();
      this.stopping = s.name;
      try {
        await s.stop();
      } finally {
        this.stopping = undefined;
        took?.(s.name, Date.now() - t0);
      }
    }
  }
}

/** True if `abort` fires before `p` settles; false once `p` resolves; rejects as `p` does. */
function untilAborted(p: Promise<void>, abort: AbortSignal): Promise<boolean> {
  if (abort.aborted) return Promise.resolve(true);
  return new Promise<boolean>((resolve, reject) => {
    const onAbort = (): void => { resolve(true); };
    abort.addEventListener('abort', onAbort, { once: true });
    p.then(() => { abort.removeEventListener('abort', onAbort); resolve(false); }, (err: unknown) => {
      abort.removeEventListener('abort', onAbort);
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}
