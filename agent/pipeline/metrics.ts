import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Logger } from '../log/logger.js';
import type { PipelineStats } from './types.js';

const STATE_CODE = { running: 0, backoff: 1, open: 2, paused: 3, stopped: 4 } as const;

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Renders the pipeline counters in the Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(s: PipelineStats): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, rows: [Record<string, string>, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      out.push(`${name}${l === '' ? '' : `{${l}}`} ${v}`);
    }
  };
  const per = <T>(f: (o: PipelineStats['outputs'][number]) => T) => s.outputs.map((o) => ({ o, v: f(o) }));
  const byReason = (pick: (o: PipelineStats['outputs'][number]) => Record<string, number>): [Record<string, string>, number][] =>
    per(pick).flatMap(({ o, v }) => Object.entries(v).map(([reason, n]): [Record<string, string>, number] => [{ output: o.name, reason }, n]));
  family('portwarden_events_accepted_total', 'counter', 'events accepted into the spool', [[{}, s.received]]);
  family('portwarden_events_lost_total', 'counter', 'events found unrecoverable in the spool at start', [[{}, s.lost]]);
  family('portwarden_output_events_received_total', 'counter', 'events each output owes (including the backlog at start)', per((o) => o.received).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_events_sent_total', 'counter', 'events acknowledged by the output', per((o) => o.sent).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_send_failures_total', 'counter', 'failed send attempts by reason', byReason((o) => o.failed));
  family('portwarden_output_events_dropped_total', 'counter', 'events dropped by reason (queue_full, too_large, corrupt, lost, spool_unwritable)', byReason((o) => o.dropped));
  family('portwarden_output_events_dead_lettered_total', 'counter', 'events rejected for good and written to the dead-letter file', per((o) => o.deadLettered).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_retries_total', 'counter', 'send attempts that had to be retried', per((o) => o.retries).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_queue_events', 'gauge', 'events queued for the output', per((o) => o.queuedEvents).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_queue_bytes', 'gauge', 'bytes queued for the output', per((o) => o.queuedBytes).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_oldest_queued_age_seconds', 'gauge', 'age of the oldest undelivered event', per((o) => o.oldestQueuedAgeMs / 1000).map(({ o, v }) => [{ output: o.name }, v]));
  family('portwarden_output_state', 'gauge', 'output state: 0 running, 1 backoff, 2 breaker open, 3 paused, 4 stopped', per((o) => STATE_CODE[o.state]).map(({ o, v }) => [{ output: o.name, type: o.type }, v]));
  family('portwarden_output_transport', 'gauge', "the transport's own counters (syslog: truncated, resent, reconnects ...)",
    s.outputs.flatMap((o) => Object.entries(o.transport ?? {}).map(([name, v]): [Record<string, string>, number] => [{ output: o.name, name }, Number(v)])));
  if (s.spool !== undefined) {
    family('portwarden_spool_bytes', 'gauge', 'bytes of the spool on disk', [[{}, s.spool.bytes]]);
    family('portwarden_spool_max_bytes', 'gauge', 'the spool disk cap', [[{}, s.spool.maxBytes]]);
    family('portwarden_spool_segments', 'gauge', 'segment files in the spool', [[{}, s.spool.segments]]);
  }
  family('process_resident_memory_bytes', 'gauge', 'resident set size of the agent', [[{}, process.memoryUsage.rss()]]);
  return out.join('\n') + '\n';
}

/** Serves `GET /metrics` on `listen` (host:port). Resolves with the bound port. */
export async function startMetricsServer(listen: string, stats: () => PipelineStats, logger: Logger): Promise<{ server: Server; port: number }> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  const host = m?.[1] ?? '127.0.0.1';
  const port = Number(m?.[2] ?? 9464);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderPrometheus(stats()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  server.unref();
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
  logger.info('metrics endpoint listening', { address: `${host}:${bound}` });
  return { server, port: bound };
}
