import { PortwardenError } from '../../util/errors.js';

/** Appends that share one promise: resolved once the last of them is written. */
interface Group { lastSeq: number; promise: Promise<void>; done: () => void; fail: (e: Error) => void }

/**
 * One promise per write, not per event (at tens of thousands of events a second it matters): the
 * appends made while a write is under way join the open group, which the next write seals.
 */
export class WriteGroups {
  private groups: Group[] = [];
  private openGroup: Group | undefined;

  /** The promise of the open group, which now ends at `seq`. */
  join(seq: number): Promise<void> {
    let g = this.openGroup;
    if (g === undefined) {
      let done!: () => void;
      let fail!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => { done = res; fail = rej; });
      g = { lastSeq: seq, promise, done, fail };
      this.groups.push(g);
      this.openGroup = g;
    }
    g.lastSeq = seq;
    return g.promise;
  }

  /** A write begins: later appends start a new group. */
  seal(): void {
    this.openGroup = undefined;
  }

  /** Resolves every group whose events are all below `writtenNext`. */
  written(writtenNext: number): void {
    while (this.groups[0] !== undefined && this.groups[0].lastSeq < writtenNext) this.groups.shift()?.done();
  }

  /** The spool closed: every group still waiting fails. */
  failAll(): void {
    for (const g of this.groups.splice(0)) g.fail(new PortwardenError('PIPELINE_STOPPED', 'spool closed before the event was written'));
  }
}
