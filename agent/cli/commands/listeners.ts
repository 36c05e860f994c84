import { loadConfig } from '../../app/config.js';
import type { EcsDocument } from '../../ecs/document.js';
import { getField } from '../../ecs/document.js';
import { F } from '../../ecs/fields.js';
import { silentLogger } from '../../log/logger.js';
import { Watcher } from '../../watch/watcher.js';
import { createAgentContext } from '../../app/context.js';
import { intOption, parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';
import { chainText, hostPortText } from '../../../transports/stdout/human.js';
import { visible, visibleLines } from '../../util/terminal-text.js';

const HELP = `Usage: portwarden listeners [--json] [--port N] [--pid N] [--config FILE]

One-shot inventory of every listening socket on this host, in every network namespace:
protocol, local address:port, exposure scope, owning process and user, its ancestry, and the
namespace or container. What \`netstat -ano\` should have been.

Options:
  --json          one ECS listening_existing document per line (as the agent ships them)
  --port N        only listeners on local port N
  --pid N         only listeners held by process N
  --config FILE   use state_dir from this config (the agent id in --json, read, never written)
  -h, --help      this help

Run as root (or with CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH) to see other users' owners.`;

function s(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** Rows for people: sorted by protocol, port, address; host strings shown escaped (`visible`). */
export function renderListenerTable(docs: readonly EcsDocument[], ownNetns: string | undefined): string {
  const header = ['PROTO', 'LOCAL ADDRESS', 'SCOPE', 'PID', 'USER', 'NETNS', 'PROCESS <- ANCESTRY'];
  const rows = [...docs]
    .sort((a, b) => s(getField(a, F.networkTransport)).localeCompare(s(getField(b, F.networkTransport)))
      || Number(getField(a, F.destinationPort)) - Number(getField(b, F.destinationPort))
      || s(getField(a, F.destinationIp)).localeCompare(s(getField(b, F.destinationIp))))
    .map((d) => {
      const proto = s(getField(d, F.networkTransport)) + (getField(d, F.networkType) === 'ipv6' ? '6' : '');
      const netns = s(getField(d, F.listenerNetns));
      const container = s(getField(d, F.containerId));
      const where = container !== '' ? `ctr:${container.slice(0, 12)}` : netns === ownNetns ? 'host' : netns;
      const owned = getField(d, F.processPid) !== undefined;
      return [
        proto,
        hostPortText(s(getField(d, F.destinationIp)) || s(getField(d, F.destinationAddress)), s(getField(d, F.destinationPort))),
        s(getField(d, F.listenerScope)),
        owned ? s(getField(d, F.processPid)) : '-',
        s(getField(d, F.userName)) || s(getField(d, F.userId)) || '-',
        where,
        owned ? chainText(d) : '(owner unknown: needs privileges)',
      ].map(visible);
    });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export const listenersCommand: Command = {
  name: 'listeners',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('listeners', argv, {
      json: { type: 'boolean' },
      port: { type: 'string' },
      pid: { type: 'string' },
      config: { type: 'string', short: 'c' },
    });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const port = intOption('listeners', 'port', values.port, 65535);
    const pid = intOption('listeners', 'pid', values.pid);
    const loaded = loadConfig(values.config, io.env);
    // The table says which real-time path `run` gets here: opened (and closed) as `run` would.
    const ctx = await createAgentContext(loaded, silentLogger, io.env, { stateReadOnly: true, realtime: values.json !== true });
    const docs: EcsDocument[] = [];
    const watcher = new Watcher({
      source: ctx.source,
      builder: ctx.builder,
      table: ctx.table,
      sink: { accept: (d) => { if (d.event.dataset === 'portwarden.network') docs.push(d); return Promise.resolve(); } },
      logger: silentLogger,
      intervalMs: 1000,
      shipProcesses: false,
    });
    await watcher.tick();
    await ctx.source.shutdown();
    const shown = docs.filter((d) => (port === undefined || getField(d, F.destinationPort) === port)
      && (pid === undefined || (getField(d, F.listenerOwners) as number[] | undefined)?.includes(pid) === true));
    if (values.json === true) {
      for (const d of shown) io.stdout.write(`${JSON.stringify(d)}\n`);
    } else {
      // The source's own namespace, not the table's record of this process: on a busy host the
      // first poll reads only listener owners and their ancestors.
      const info = ctx.source.info();
      io.stdout.write(`${renderListenerTable(shown, info.ownNetns)}\n`);
      for (const l of info.limitations) io.stderr.write(`note: ${visibleLines(l)}\n`);
      const rt = info.realtime;
      if (rt !== undefined) {
        const why = rt.reasons.length > 0 ? ` (${rt.reasons.join('; ')})` : '';
        io.stderr.write(visibleLines(`note: sockets read through ${info.listenerPath}; real-time source for \`portwarden run\`: ${rt.mode}${why}`) + '\n');
      }
    }
    return 0;
  },
};
