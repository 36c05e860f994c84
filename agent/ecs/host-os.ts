/**
 * `host.architecture` and `host.os.platform` as Elastic's own agents (Beats, Elastic Agent) write
 * them, so that dashboards and rules keyed on them match portwarden's events: the machine name of
 * `uname -m` (`x86_64`, `aarch64`), not Node's `x64`/`arm64`; on Linux the distribution id of
 * /etc/os-release (`debian`, `ubuntu`, `rhel`), `windows` on Windows, `darwin` on macOS.
 */

const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** `uname -m` when node can give it (os.machine), else Node's arch mapped to the same names. */
export function beatsArchitecture(machine: string | undefined, nodeArch: string): string {
  if (machine !== undefined && machine !== '') return machine;
  return NODE_ARCH[nodeArch] ?? nodeArch;
}

/** The `ID=` of an os-release file, unquoted and lower-case; undefined when absent. */
export function osReleaseId(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^ID=(.*)$/.exec(line.trim());
    if (m === null) continue;
    const id = (m[1] ?? '').trim().replace(/^(["'])(.*)\1$/, '$2').toLowerCase();
    return id === '' ? undefined : id;
  }
  return undefined;
}

/** `host.os.platform` for Node's `process.platform`, given /etc/os-release's text on Linux. */
export function beatsPlatform(platform: NodeJS.Platform, osRelease: string | undefined): string {
  switch (platform) {
    case 'win32': return 'windows';
    case 'darwin': return 'darwin';
    case 'linux': return (osRelease === undefined ? undefined : osReleaseId(osRelease)) ?? 'linux';
    default: return platform;
  }
}
