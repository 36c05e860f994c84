const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `2s`, `1.5m`, `24h`, `7d` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * (DURATION_MS[m[2] ?? ''] ?? Number.NaN));
}

const BYTES_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const BYTES_MULT: Record<string, number> = {
  b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3,
};

/** Parses `1048576`, `64KiB`, `100MB`, `2GiB` into bytes; undefined when malformed. */
export function parseBytes(text: string): number | undefined {
  const m = BYTES_RE.exec(text.trim());
  if (m === null) return undefined;
  return Math.floor(Number(m[1]) * (BYTES_MULT[(m[2] ?? 'b').toLowerCase()] ?? Number.NaN));
}
