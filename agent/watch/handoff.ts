import type { EcsDocument } from '../ecs/document.js';
import type { EventSink } from '../pipeline/types.js';

/** Documents handed to the sink before waiting for their writes. */
export const HANDOFF_WINDOW = 256;

const DONE = Promise.resolve();

/**
 * Hands a burst of documents (a first tick, an inventory, thousands of listeners going away) to
 * the sink without waiting for each one's write. The spool writes everything queued since its
 * last write at once: awaiting every document on its own made one write, one read back and one
 * output write per document, 2,000 of each for a 2,000-listener inventory. At most `window`
 * documents are in flight, so a burst still never holds all of them in memory, and a spool that
 * is full (`when_full: block`) still holds the watch back.
 */
export class Handoff {
  private inflight: Promise<void>[] = [];
  /** Documents handed over since the last settle. */
  private count = 0;

  constructor(private readonly sink: EventSink, private readonly window = HANDOFF_WINDOW) {}

  /** Hands `doc` over; resolves at once unless the window is full, then once it has settled. */
  add(doc: EcsDocument): Promise<void> {
    return this.offer(doc) ?? DONE;
  }

  /**
   * add() for loops over thousands of documents: undefined unless the window is full (then the
   * promise to await), so that a burst does not create and await a promise per document.
   */
  offer(doc: EcsDocument): Promise<void> | undefined {
    const accepted = this.sink.accept(doc);
    this.count++;
    // The pipeline answers every document of one spool write with the same promise: kept once.
    if (accepted !== this.inflight.at(-1)) {
      // Handled now, reported by settle(): a failure while the window fills is no unhandled rejection.
      accepted.catch(() => undefined);
      this.inflight.push(accepted);
    }
    return this.count >= this.window ? this.settle() : undefined;
  }

  /** Waits for every document handed over; throws the first failure once all have settled. */
  async settle(): Promise<void> {
    const batch = this.inflight;
    this.inflight = [];
    this.count = 0;
    const failed = (await Promise.allSettled(batch)).find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
