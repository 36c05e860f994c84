// Container health: the agent's metrics endpoint answers with portwarden's counters. A paused
// output (bad credentials) is deliberately not "unhealthy": a restart would not fix it, and the
// agent reports it in-band (output_paused). Exit 0 healthy, 1 not. Usage: node healthcheck.mjs URL
const url = process.argv[2] ?? 'http://127.0.0.1:9464/metrics';
const timer = setTimeout(() => { console.error(`no answer from ${url} within 5 s`); process.exit(1); }, 5000);
try {
  const res = await fetch(url);
  const text = await res.text();
  clearTimeout(timer);
  if (!res.ok || !text.includes('portwarden_events_accepted_total')) {
    console.error(`unexpected answer from ${url}: HTTP ${res.status}`);
    process.exit(1);
  }
  process.exit(0);
} catch (err) {
  clearTimeout(timer);
  console.error(`cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
