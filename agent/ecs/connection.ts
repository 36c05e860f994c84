/**
 * The document of an outbound connection attempt (Linux eBPF: connect() entering SYN_SENT): ECS
 * `event.category: network`, `event.type: [connection, start]`, `network.direction: egress`, the
 * local side in `source.*` and the peer in `destination.*` (as Sysmon's event 3 through
 * Winlogbeat and Elastic's network events have them), and the connecting process with its lineage.
 */
import type { ProcessNode } from '../lineage/process-table.js';
import type { ConnectAttempt } from '../sources/types.js';
import type { DocumentBuilder } from './builder.js';
import type { EcsDocument } from './document.js';
import { Action, Dataset, Kind } from './fields.js';
import { attachOwner } from './process-fields.js';

/** `owner`: the connecting process as the table has it; without it, what the kernel said (pid, name, uid). */
export function connectionDocument(
  builder: DocumentBuilder, c: ConnectAttempt, owner: ProcessNode | undefined, ancestors: readonly ProcessNode[], timestamp: string,
): EcsDocument {
  const doc = builder.base({
    dataset: Dataset.network, kind: Kind.event, action: Action.connectionAttempted,
    category: ['network'], type: ['connection', 'start'], timestamp,
  });
  const source: Record<string, unknown> = {};
  if (c.sourceAddress !== '') source.ip = c.sourceAddress;
  if (c.sourcePort > 0) source.port = c.sourcePort;
  if (Object.keys(source).length > 0) doc.source = source;
  doc.destination = { ip: c.destinationAddress, port: c.destinationPort, address: c.destinationAddress };
  doc.network = { transport: c.transport, type: c.family, iana_number: '6', direction: 'egress' };
  const connection: Record<string, unknown> = { netns: c.netns };
  if (c.suppressed > 0) connection.suppressed = c.suppressed;
  const ips = [c.destinationAddress, ...(c.sourceAddress === '' ? [] : [c.sourceAddress])];
  const related: Record<string, unknown> = { ip: ips };
  if (owner !== undefined) {
    attachOwner(doc, related, owner, ancestors, { connection });
  } else {
    doc.process = { pid: c.pid, name: c.name };
    if (c.uid !== undefined) doc.user = { id: String(c.uid) };
    doc.portwarden = { connection };
  }
  doc.related = related;
  return doc;
}
