/** A benchmark's result: one table, printed by `npm run bench`. */
export interface BenchTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

/** A benchmark module under bench/ named `*.bench.ts` default-exports one of these. */
export type Bench = () => Promise<BenchTable[]>;

export function renderTable(t: BenchTable): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const out = [`### ${t.title}`, '', line(t.columns), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`];
  for (const r of cells.slice(1)) out.push(line(r));
  for (const n of t.notes ?? []) out.push('', n);
  return out.join('\n');
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
}

/** CPU milliseconds (user + system) consumed by this process while `fn` runs. */
export async function cpuMs<T>(fn: () => Promise<T>): Promise<{ ms: number; wallMs: number; value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, wallMs: performance.now() - t0, value };
}
