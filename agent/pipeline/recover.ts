import { rename } from 'node:fs/promises';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';
import { frameIsFor } from './spool/frame.js';
import type { CursorLoad } from './cursor-store.js';
import type { Lane } from './lane.js';
import type { Spool } from './spool/spool.js';

/** What start-up found; everything in it is reported in one events_lost agent event. */
export interface RecoveryReport {
  /** Events no output will ever get (the largest loss of any output). */
  lost: number;
  lostByOutput: Record<string, number>;
  repairedSegments: string[];
  /** Damaged segments the disk would not let be repaired yet (a full disk): damage skipped in memory, repair retried. */
  unrepairedSegments: string[];
  droppedBytes: number;
  /** Outputs whose cursor was unreadable and restart from the oldest retained event (duplicates, no loss). */
  cursorsReset: string[];
  /** Set when the spool could not be read at all and was moved aside. */
  spoolMovedTo?: string;
}

async function scanOnce(spool: Spool, lanes: Lane[], loads: CursorLoad[]) {
  const from = loads.map((l) => (l.kind === 'ok' ? l.pos.seq : l.kind === 'missing' ? Infinity : 0));
  for (const lane of lanes) { lane.queuedEvents = 0; lane.queuedBytes = 0; }
  return spool.open((f) => {
    lanes.forEach((lane, i) => {
      if (f.seq >= (from[i] ?? 0) && frameIsFor(f, lane.name)) {
        lane.queuedEvents++;
        lane.queuedBytes += f.bytes;
      }
    });
  });
}

/**
 * Resumes every output's cursor over what the spool still holds, counts what was lost, and never
 * throws for damaged data: a spool that cannot be read at all is moved aside and started afresh.
 */
export async function recover(spool: Spool, lanes: Lane[], logger: Logger, now: () => number): Promise<RecoveryReport> {
  const report: RecoveryReport = { lost: 0, lostByOutput: {}, repairedSegments: [], unrepairedSegments: [], droppedBytes: 0, cursorsReset: [] };
  let loads: CursorLoad[];
  let scan;
  try {
    loads = await Promise.all(lanes.map((l) => l.cursor.load()));
    scan = await scanOnce(spool, lanes, loads);
  } catch (err) {
    const aside = `${spool.dir}.damaged-${now()}`;
    logger.error('spool unreadable; moving it aside and starting a new one', { error: errorMessage(err), moved_to: aside });
    await rename(spool.dir, aside);
    report.spoolMovedTo = aside;
    loads = await Promise.all(lanes.map((l) => l.cursor.load()));
    scan = await scanOnce(spool, lanes, loads);
  }
  report.repairedSegments = scan.repaired;
  report.unrepairedSegments = scan.unrepaired.map((u) => u.name);
  for (const u of scan.unrepaired) {
    logger.warn('damaged spool segment cannot be repaired yet (disk full?); its good events are delivered, the damage is skipped in memory and the repair retried', { segment: u.name, error: u.error });
  }
  report.droppedBytes = scan.droppedBytes;
  for (const l of loads) if (l.kind === 'ok') spool.raiseNextSeq(l.pos.seq);
  const firstAvail = spool.segments[0]?.firstSeq ?? spool.nextSeq;
  lanes.forEach((lane, i) => {
    const load = loads[i] ?? { kind: 'missing' };
    let start: number;
    if (load.kind === 'ok') {
      start = load.pos.seq;
    } else if (load.kind === 'missing') {
      start = spool.nextSeq;
    } else {
      start = firstAvail;
      report.cursorsReset.push(lane.name);
      logger.error('output cursor unreadable; resending from the oldest queued event', { output: lane.name, why: load.why });
    }
    // Seqs [from, to) gone from the spool, less those the last run already counted as dropped for
    // this output (drop_oldest evicted them while its cursor stayed before its batch in flight).
    const counted = load.kind === 'ok' ? load.counted : undefined;
    const gone = (from: number, to: number): number => Math.max(0, to - from)
      - (counted === undefined ? 0 : Math.max(0, Math.min(to, counted[1]) - Math.max(from, counted[0])));
    let lost = gone(start, firstAvail);
    const floor = Math.max(start, firstAvail);
    for (const [a, b] of scan.lostSeqs) lost += gone(Math.max(a, floor), b + 1);
    if (lost > 0) {
      lane.count('dropped', 'lost', lost);
      report.lostByOutput[lane.name] = lost;
      report.lost = Math.max(report.lost, lost);
    }
    lane.received = lane.queuedEvents + lost;
    const seg = [...spool.segments].reverse().find((s) => s.id <= start) ?? spool.segments[0];
    lane.readPos = lane.ackPos = { seq: start, segment: seg?.id ?? start, offset: 0 };
  });
  // On a full disk a new cursor file may not fit yet: it is saved with the output's first acknowledgement.
  await Promise.all(lanes.filter((_, i) => loads[i]?.kind !== 'ok').map((lane) => lane.cursor.save(lane.ackPos).catch((err: unknown) => {
    logger.warn('could not write a new output cursor yet', { output: lane.name, error: errorMessage(err) });
  })));
  return report;
}
