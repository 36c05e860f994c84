/** The host OSes portwarden knows, as ECS `host.os.type` spells them (rule files' `os:`, `replay --os`). */
export const OS_TYPES = ['linux', 'windows', 'macos'] as const;
export type OsType = (typeof OS_TYPES)[number];

export function isOsType(v: unknown): v is OsType {
  return typeof v === 'string' && (OS_TYPES as readonly string[]).includes(v);
}

/** ECS `host.os.type` of a Node platform; other Unixes are `unix`. */
export function hostOsType(p: NodeJS.Platform): OsType | 'unix' {
  switch (p) {
    case 'linux': return 'linux';
    case 'win32': return 'windows';
    case 'darwin': return 'macos';
    default: return 'unix';
  }
}

/** This host's OS type: the one place that reads it from process.platform. */
export function thisHostOs(): OsType | 'unix' {
  return hostOsType(process.platform);
}

/** `linux, windows or macos`, for messages. */
export const OS_TYPES_TEXT = `${OS_TYPES.slice(0, -1).join(', ')} or ${OS_TYPES[OS_TYPES.length - 1] ?? ''}`;
