import { FIREWALL_CMDLET_SCRIPT, parseFirewallCmdletJson } from './firewall-cmdlets.js';
import { FIREWALL_SCRIPT, parseFirewallJson, type FirewallState } from './firewall-state.js';
import { PortwardenError } from '../../util/errors.js';

/**
 * The Windows Firewall state, read through PowerShell and kept for `refreshMs` (reading 1,000 rules
 * takes 15-60 s): the first poll waits for it, later polls refresh it in the background.
 */
export class FirewallReader {
  state: FirewallState | undefined;
  /** Why the state is missing or incomplete, for the poll's warnings and the limitations. */
  error: string | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly ps: (script: string) => Promise<string>,
    private readonly now: () => Date,
    private readonly refreshMs: number,
  ) {}

  /** Reads the state if it was never read, or starts a background read if it is stale. */
  async refresh(): Promise<void> {
    const stale = this.state === undefined || this.now().getTime() - this.state.readAt.getTime() >= this.refreshMs;
    if (this.state === undefined && this.error === undefined) await this.load();
    else if (stale && this.loading === undefined) void this.load();
  }

  private load(): Promise<void> {
    this.loading ??= this.read()
      .then((parsed) => {
        this.state = parsed.state;
        this.error = parsed.warnings.length > 0 ? parsed.warnings.join('; ') : undefined;
      })
      .catch((err: unknown) => { this.error = `firewall state could not be read: ${(err as Error).message}`; })
      .finally(() => { this.loading = undefined; });
    return this.loading;
  }

  /** FwPolicy2 (COM) first: one call, ~3x faster; the NetSecurity cmdlets when COM is unavailable. */
  private async read() {
    try {
      return parseFirewallJson(await this.ps(FIREWALL_SCRIPT), this.now());
    } catch (com) {
      try {
        return parseFirewallCmdletJson(await this.ps(FIREWALL_CMDLET_SCRIPT), this.now());
      } catch (cmdlets) {
        throw new PortwardenError('FIREWALL_UNREADABLE', `FwPolicy2: ${(com as Error).message}; NetSecurity cmdlets: ${(cmdlets as Error).message}`, { cause: cmdlets });
      }
    }
  }
}
