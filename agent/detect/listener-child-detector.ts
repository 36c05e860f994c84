import type { EcsDocument } from '../ecs/document.js';
import { keyField } from '../ecs/document.js';
import { Action, F } from '../ecs/fields.js';
import { threatRefs } from './attack.js';
import { BUILTIN_RULESET, BUILTIN_VERSION } from './listener-detectors.js';
import { LISTENER_ACTIONS, SEVERITY } from './types.js';
import type { Detector, Hit, RuleMeta } from './types.js';

/** How many listening processes are remembered (oldest forgotten first). */
const MAX_OWNERS = 20_000;

/** Shells a bind shell hands its connection to. */
const SHELLS = /^(?:sh|bash|dash|zsh|ksh|mksh|ash|fish|tcsh|csh|busybox|cmd\.exe|powershell\.exe|pwsh\.exe|pwsh|powershell_ise\.exe)$/i;
/**
 * Listeners that should never hand a connection to a shell: shells themselves, netcat/socat,
 * Windows script hosts and proxy-execution binaries (powercat, ncat --exec, socat EXEC:).
 */
const RELAYS = /^(?:sh|bash|dash|zsh|ksh|mksh|ash|busybox|nc|ncat|netcat|nc\.openbsd|nc\.traditional|socat|cmd\.exe|powershell\.exe|pwsh\.exe|pwsh|powershell_ise\.exe|nc\.exe|nc64\.exe|ncat\.exe|socat\.exe|wscript\.exe|cscript\.exe|mshta\.exe|rundll32\.exe|regsvr32\.exe|msbuild\.exe|installutil\.exe|regasm\.exe|regsvcs\.exe)$/i;
/** Script interpreters: one-liner bind shells, but also notebooks and dev servers (lower severity). */
const INTERPRETERS = /^(?:python[0-9.]*|python[0-9.]*\.exe|pythonw\.exe|perl[0-9.]*|perl\.exe|ruby[0-9.]*|ruby\.exe|php[0-9.]*|php\.exe|lua[0-9.]*|tclsh[0-9.]*|gawk|awk)$/i;


function hostOf(doc: EcsDocument): string {
  return keyField(doc, F.hostId) ?? keyField(doc, F.hostName) ?? '';
}

/**
 * A shell started by a process that listens (or accepted a connection): a bind shell, whatever its
 * command line (powercat, `ncat -l --exec`, `socat TCP-LISTEN:... EXEC:sh`, a Python one-liner).
 * Keeps the listening processes it has seen (by entity id and by pid, per host) and checks each
 * process start's parent against them.
 */
export class ListenerSpawnedShell implements Detector {
  readonly meta: RuleMeta = {
    id: 'pw-listener-owner-spawned-shell',
    name: 'Listening shell, netcat or interpreter started a shell',
    description: 'A process that holds a listening socket (a shell, netcat/socat, a script host or an interpreter) started a command shell: a bind shell handing the accepted connection to the shell.',
    ruleset: BUILTIN_RULESET,
    version: BUILTIN_VERSION,
    family: 'process',
    os: [],
    severity: SEVERITY.high,
    riskScore: SEVERITY.high,
    threat: threatRefs('TA0002', 'T1059'),
    references: ['https://attack.mitre.org/techniques/T1059/', 'https://github.com/besimorhino/powercat'],
  };

  private readonly owners = new Map<string, string>();

  test(doc: EcsDocument): Hit | undefined {
    const host = hostOf(doc);
    if (LISTENER_ACTIONS.has(doc.event.action)) {
      this.remember(doc, host);
      return undefined;
    }
    this.forgetReplaced(doc, host);
    const name = keyField(doc, F.processName);
    if (name === undefined || !SHELLS.test(name)) return undefined;
    const keys = [keyField(doc, F.processParentEntityId), keyField(doc, F.processParentPid)];
    const where = keys[0] === undefined ? undefined : this.owners.get(`${host}|e|${keys[0]}`);
    const listening = where ?? (keys[1] === undefined ? undefined : this.owners.get(`${host}|p|${keys[1]}`));
    if (listening === undefined) return undefined;
    const parent = keyField(doc, F.processParentName) ?? listening.split(' ')[0] ?? '?';
    const interpreter = INTERPRETERS.test(parent);
    if (!interpreter && !RELAYS.test(parent)) return undefined;
    return {
      reason: `${name} started by ${parent}, which listens on port ${listening.split(' ')[1] ?? '?'}`,
      ...(interpreter ? { severity: SEVERITY.medium, riskScore: SEVERITY.medium } : {}),
    };
  }

  /** A new process on a remembered pid, or a process that execs another program, no longer holds the old program's listener. */
  private forgetReplaced(doc: EcsDocument, host: string): void {
    const action = doc.event.action;
    if (action !== Action.processStart && action !== Action.processExec) return;
    const pid = keyField(doc, F.processPid);
    if (pid !== undefined) this.owners.delete(`${host}|p|${pid}`);
    const entity = keyField(doc, F.processEntityId);
    if (action === Action.processExec && entity !== undefined) this.owners.delete(`${host}|e|${entity}`);
  }

  private remember(doc: EcsDocument, host: string): void {
    const owner = keyField(doc, F.processName) ?? '?';
    const port = keyField(doc, F.destinationPort) ?? '?';
    const what = `${owner} ${port}`;
    const entity = keyField(doc, F.processEntityId);
    const pid = keyField(doc, F.processPid);
    if (entity !== undefined) this.put(`${host}|e|${entity}`, what);
    if (pid !== undefined) this.put(`${host}|p|${pid}`, what);
  }

  private put(key: string, what: string): void {
    this.owners.delete(key);
    this.owners.set(key, what);
    if (this.owners.size > MAX_OWNERS) {
      const oldest = this.owners.keys().next();
      if (oldest.done !== true) this.owners.delete(oldest.value);
    }
  }
}
