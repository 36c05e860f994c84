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

  async start(): Promise<void> {
    for (const s of this.stages) {
      await s.start();
      this.started.push(s);
    }
  }

  /** Idempotent: a second call stops nothing. */
  async stop(): Promise<void> {
    const started = this.started.reverse();
    this.started = [];
    for (const s of started) await s.stop();
  }
}
