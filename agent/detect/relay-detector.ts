import type { EcsDocument } from '../ecs/document.js';
import { getField, stringField } from '../ecs/document.js';
import { F } from '../ecs/fields.js';
import { threatRefs } from './attack.js';
import { BUILTIN_RULESET, BUILTIN_VERSION } from './listener-detectors.js';
import { SEVERITY } from './types.js';
import type { DetectContext, Detector, Hit, RuleMeta } from './types.js';

export const RELAY_RULE_ID = 'pw-listener-relay';

/**
 * Programs whose job is to forward connections, quiet when they run from a system directory:
 * container port publishers, reverse proxies and load balancers, database poolers, protocol
 * multiplexers and TLS wrappers. Anything else an administrator runs on purpose goes in `detect.allowlist`
 * (`rules: [pw-listener-relay]` with `programs`, `cidrs` or `ports` of the forwarded-to end).
 */
export const EXPECTED_RELAYS: readonly string[] = [
  'docker-proxy', 'rootlessport', 'rootlesskit', 'slirp4netns', 'pasta', 'passt', 'kube-proxy', 'containerd-shim',
  'nginx', 'haproxy', 'envoy', 'traefik', 'caddy', 'squid', 'varnishd', 'apache2', 'httpd', 'lighttpd', 'sslh', 'sslh-fork', 'sslh-select', 'stunnel', 'stunnel4', 'sshd',
  // OpenSSH 9.8 and later: the per-connection process (which carries -L/-J forwarding) is no longer named sshd.
  'sshd-session', 'sshd-auth',
  // Database connection poolers and routers, and a service mesh's proxy: relays by design whose
  // long sessions can match byte for byte within 1 % (a pooler's own login is small beside them).
  'pgbouncer', 'pgpool', 'odyssey', 'proxysql', 'mysqlrouter', 'maxscale', 'linkerd2-proxy',
];
const EXPECTED = new Set(EXPECTED_RELAYS);
const SYSTEM_DIR = /^\/(?:usr|bin|sbin|lib|lib64|opt|snap|nix\/store)\//;

/** Tunnelling tools (T1572): their outbound connection is the tunnel, so its bytes do not match the client's. */
const TUNNEL_TOOLS = /^(?:ssh|autossh|plink(?:\.exe)?|ssh\.exe|klink\.exe|chisel(?:\.exe)?|gost|frpc|frps|ligolo-(?:agent|proxy|ng)|agent|ngrok|bore|rathole|wstunnel|revsocks|iox|rpivot|ew_for_linux(?:32|64)?|cloudflared)$/i;
/**
 * The ssh client: a relay of its own means -L or -D, which pw-ssh-tunnel rates low. Serving a client
 * on the same host (a loopback one) it stays low here; serving other hosts (GatewayPorts) it does not.
 */
const SSH_CLIENT = /^(?:ssh|autossh|plink(?:\.exe)?|ssh\.exe|klink\.exe)$/i;
/** Plain relays (T1090): a forwarder that joins the two connections byte for byte. */
const RELAY_TOOLS = /^(?:socat|ncat|nc|netcat|nc\.openbsd|nc\.traditional|busybox|rinetd|redir|3proxy|microsocks|socat\.exe|ncat\.exe|nc\.exe|nc64\.exe)$/i;

/** How long an accepted connection counts as "at the same time" as an outbound one (one poll shares a timestamp). */
const WINDOW_MS = 10_000;
/**
 * A known tool without byte proof fires on its second sighting of the same forwarded-to end within
 * this time, so a relay whose bytes are caught a moment later is reported with the proof.
 */
const TOOL_CONFIRM_MS = 120_000;
/** Processes whose accepted connections are remembered (oldest forgotten first). */
const MAX_PROCESSES = 4096;
const MAX_INBOUND = 16;

interface Inbound { at: number; ip: string; port: number; localPort: number; fromClient: number | undefined; toClient: number | undefined }

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Whether a program is one whose job is forwarding (by name, from a system directory). */
export function expectedRelay(name: string | undefined, executable: string | undefined): boolean {
  return name !== undefined && EXPECTED.has(name) && (executable === undefined || SYSTEM_DIR.test(executable));
}

/** A known tool without byte proof: medium, but an ssh client's forward for its own host is low. */
function toolSeverity(name: string | undefined, clientIp: string): { severity: number; riskScore: number } {
  const level = name !== undefined && SSH_CLIENT.test(name) && isLoopback(clientIp) ? SEVERITY.low : SEVERITY.medium;
  return { severity: level, riskScore: level };
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

/**
 * Two byte counts the same, but for what a poll may catch in flight (1 %) and one byte: Linux counts
 * the SYN in `bytes_acked` of the side that connected (its outbound connection), not of the side
 * that accepted.
 */
function same(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.max(1, Math.floor(Math.max(a, b) / 100));
}

/**
 * A listening process relays a client's connection to another host (a port forwarder, SOCKS or
 * tunnel endpoint, whatever its name): it holds, at the same time, a connection it accepted and a
 * connection it opened to a non-loopback address. Fed by connection events (`network.direction`
 * ingress and egress of one process entity); alone that is any server that calls a remote database,
 * so it fires when the bytes prove the relay (what the process read from the client it wrote to the
 * other host, and the other way round), or, without that proof, when the process is a known
 * tunnelling or relay tool.
 */
export class ListenerRelay implements Detector {
  readonly meta: RuleMeta = {
    id: RELAY_RULE_ID,
    name: 'Listening process relays connections to another host',
    description: 'A process that accepted a connection on its listening port forwards it to another host at the same time: the bytes it read from the client are the bytes it wrote to the other host (a port forwarder, whatever its name), or it is a known tunnelling or relay tool. Expected forwarders (container port publishers, reverse proxies) are quiet; allowlist others by program or forwarded-to CIDR.',
    ruleset: BUILTIN_RULESET,
    version: BUILTIN_VERSION,
    family: 'connection',
    os: [],
    severity: SEVERITY.high,
    riskScore: SEVERITY.high,
    threat: threatRefs('TA0011', 'T1090'),
    moreThreats: [threatRefs('TA0011', 'T1572')],
    references: ['https://attack.mitre.org/techniques/T1090/', 'https://attack.mitre.org/techniques/T1572/'],
  };

  private readonly inbound = new Map<string, Inbound[]>();
  /** First sighting of a known tool's (process, forwarded-to end) without byte proof. */
  private readonly toolSeen = new Map<string, number>();

  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined {
    const direction = getField(doc, F.networkDirection);
    if (direction !== 'ingress' && direction !== 'egress') return undefined;
    const who = stringField(doc, F.processEntityId) ?? `${String(getField(doc, F.processPid))}@${String(getField(doc, F.processStart))}`;
    const key = `${stringField(doc, F.hostId) ?? ''}|${who}`;
    if (direction === 'ingress') {
      this.remember(key, doc, ctx.now);
      return undefined;
    }
    const ip = stringField(doc, F.destinationIp);
    const port = num(getField(doc, F.destinationPort));
    if (ip === undefined || isLoopback(ip)) return undefined;
    const name = stringField(doc, F.processName);
    if (expectedRelay(name, stringField(doc, F.processExecutable))) return undefined;
    const clients = (this.inbound.get(key) ?? []).filter((c) => Math.abs(ctx.now - c.at) <= WINDOW_MS && c.ip !== ip);
    if (clients.length === 0) return undefined;
    const wrote = num(getField(doc, F.sourceBytes));
    const read = num(getField(doc, F.destinationBytes));
    // Data must have passed through both connections: the client's side moved bytes, and the
    // outbound one more than its SYN (which Linux counts as one byte written), so a client that has
    // not spoken yet (0/0) and a forwarder's fresh outbound connection (1/0) are no proof.
    const proof = clients.find((c) => same(c.fromClient, wrote) && same(c.toClient, read) && (c.fromClient ?? 0) + (c.toClient ?? 0) > 0 && (wrote ?? 0) + (read ?? 0) > 1);
    const tunnel = name !== undefined && TUNNEL_TOOLS.test(name);
    const tool = tunnel || (name !== undefined && RELAY_TOOLS.test(name));
    if (proof === undefined && !tool) return undefined;
    if (proof === undefined && !this.confirmed(`${key}|${ip}|${String(port)}`, ctx.now)) return undefined;
    const client = proof ?? clients[0];
    if (client === undefined) return undefined;
    const evidence = proof !== undefined
      ? `it wrote there the ${String(wrote)} bytes it read from the client and sent the client the ${String(read)} bytes it read back`
      : `${name ?? '?'} is a ${tunnel ? 'tunnelling' : 'relay'} tool`;
    return {
      reason: `${name ?? 'a process'} accepted ${client.ip}:${client.port} on port ${client.localPort} and relays it to ${ip}:${String(port)}: ${evidence}`,
      ...(proof === undefined ? toolSeverity(name, client.ip) : {}),
      threat: threatRefs('TA0011', tunnel ? 'T1572' : 'T1090'),
      portwarden: {
        relay: {
          evidence: proof === undefined ? 'tool' : 'bytes',
          inbound: { ip: client.ip, port: client.port, local_port: client.localPort, ...(client.fromClient === undefined ? {} : { bytes_from_client: client.fromClient, bytes_to_client: client.toClient }) },
          forwarded_to: { ip, ...(port === undefined ? {} : { port }) },
        },
      },
    };
  }

  /** Whether the same tool sighting was made before (not in this very look), within TOOL_CONFIRM_MS. */
  private confirmed(key: string, now: number): boolean {
    const first = this.toolSeen.get(key);
    if (first !== undefined && now > first && now - first <= TOOL_CONFIRM_MS) return true;
    if (first === undefined || now - first > TOOL_CONFIRM_MS) {
      this.toolSeen.set(key, now);
      if (this.toolSeen.size > MAX_PROCESSES) this.toolSeen.delete(this.toolSeen.keys().next().value ?? '');
    }
    return false;
  }

  private remember(key: string, doc: EcsDocument, at: number): void {
    const ip = stringField(doc, F.sourceIp);
    const port = num(getField(doc, F.sourcePort));
    const localPort = num(getField(doc, F.destinationPort));
    if (ip === undefined || port === undefined || localPort === undefined) return;
    const list = (this.inbound.get(key) ?? []).filter((c) => at - c.at <= WINDOW_MS && !(c.ip === ip && c.port === port));
    list.push({ at, ip, port, localPort, fromClient: num(getField(doc, F.sourceBytes)), toClient: num(getField(doc, F.destinationBytes)) });
    if (list.length > MAX_INBOUND) list.shift();
    this.inbound.delete(key);
    this.inbound.set(key, list);
    if (this.inbound.size > MAX_PROCESSES) {
      const oldest = this.inbound.keys().next();
      if (oldest.done !== true) this.inbound.delete(oldest.value);
    }
  }
}
