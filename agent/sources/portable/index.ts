import si from 'systeminformation';
import type { Family, ListenerRecord, ProcessRecord, Snapshot, Source, SourceInfo, Transport } from '../types.js';

/** `systeminformation`'s connection and process rows mapped to our records (pure). */
export function mapConnections(rows: readonly si.Systeminformation.NetworkConnectionsData[]): ListenerRecord[] {
  const out: ListenerRecord[] = [];
  for (const c of rows) {
    const proto = c.protocol.toLowerCase();
    const transport: Transport | undefined = proto.startsWith('tcp') ? 'tcp' : proto.startsWith('udp') ? 'udp' : undefined;
    if (transport === undefined) continue;
    if (transport === 'tcp' && c.state.toUpperCase() !== 'LISTEN') continue;
    if (transport === 'udp' && c.peerPort !== '*' && c.peerPort !== '0' && c.peerPort !== '') continue;
    const port = Number(c.localPort);
    if (!Number.isInteger(port)) continue;
    const address = c.localAddress === '*' ? (proto.endsWith('6') ? '::' : '0.0.0.0') : c.localAddress.replace(/^\[|\]$/g, '');
    const family: Family = address.includes(':') || proto.endsWith('6') ? 'ipv6' : 'ipv4';
    out.push({ netns: 'host', transport, family, address, port, inode: 0, owners: (c.pid as number | null) !== null && c.pid > 0 ? [c.pid] : [] });
  }
  return out;
}

export function mapProcesses(rows: readonly si.Systeminformation.ProcessesProcessData[]): Map<number, ProcessRecord> {
  const out = new Map<number, ProcessRecord>();
  for (const p of rows) {
    const started = Date.parse(p.started.replace(' ', 'T'));
    const rec: ProcessRecord = {
      pid: p.pid,
      ppid: p.parentPid,
      startKey: p.started,
      start: Number.isNaN(started) ? new Date(0).toISOString() : new Date(started).toISOString(),
      name: p.name,
    };
    const cmd = [p.command, p.params].filter((s) => s !== '').join(' ');
    if (cmd !== '') rec.commandLine = cmd;
    if (p.path !== '') rec.executable = p.path.endsWith(p.command) ? p.path : `${p.path}/${p.command}`;
    if (p.user !== '') rec.userName = p.user;
    out.set(p.pid, rec);
  }
  return out;
}

/**
 * The portable fallback collector (systeminformation): works wherever that library does, at the
 * cost of a full scan each poll and second-resolution start times. Used on platforms without a
 * native collector, or when the native one cannot start.
 */
export class PortableSource implements Source {
  start = (): Promise<void> => Promise.resolve();
  flush = (): Promise<void> => Promise.resolve();
  shutdown = (): Promise<void> => Promise.resolve();

  info(): SourceInfo {
    return {
      platform: 'systeminformation',
      listenerPath: 'systeminformation.networkConnections (full scan each poll)',
      processPath: 'systeminformation.processes',
      privileged: false,
      limitations: ['portable fallback collector: one network namespace, start times to the second, no socket inodes'],
    };
  }

  async poll(): Promise<Snapshot> {
    const [conns, procs] = await Promise.all([si.networkConnections(), si.processes()]);
    return { takenAt: new Date(), listeners: mapConnections(conns), processes: mapProcesses(procs.list), warnings: [] };
  }
}
