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

  /** Idempotent: a second call stops nothing. */
  async stop(): Promise<void> {
    const started = this.started.reverse();
    this.started = [];
    for (const s of started) await s.stop();
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
