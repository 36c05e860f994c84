import { createHash } from 'node:crypto';

/**
 * `process.entity_id`: base64url(SHA-256(host.id, boot id, pid, start key)). Stable for the life
 * of the process and never shared after PID reuse, so parent and child ids join in EQL sequences.
 */
export function entityId(hostId: string, bootId: string, pid: number, startKey: string): string {
  return createHash('sha256').update(`${hostId}\0${bootId}\0${pid}\0${startKey}`).digest('base64url');
}
