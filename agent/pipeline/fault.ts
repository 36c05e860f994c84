/**
 * Test-only fault injection points, so crash tests can stop the process at exactly the moments
 * that matter. Production code passes no hook; each call site is one optional call.
 * - `append.torn`: half of a write chunk is on disk, the other half is not yet written.
 * - `cursor.tmp`: a cursor's tmp file is written, the rename has not happened.
 * - `segment.unlink`: a segment is about to be deleted.
 */
export type FaultPoint = 'append.torn' | 'cursor.tmp' | 'segment.unlink';
export type FaultHook = (point: FaultPoint) => void;
