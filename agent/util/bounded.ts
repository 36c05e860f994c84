/** Resolves when `p` does, or after `ms` at the latest; rejects as `p` does within `ms`. */
export function bounded(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    p.then(() => { clearTimeout(t); resolve(); }, (err: unknown) => { clearTimeout(t); reject(err instanceof Error ? err : new Error(String(err))); });
  });
}
