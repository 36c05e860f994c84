import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Waits for `cond` (polled every 20 ms) or throws naming `what` after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A port with nothing listening (yet); `open()` later forwards it to `target`. */
export async function reservePort(): Promise<{ port: number; open: (target: string) => Promise<Server> }> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const addr = probe.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  await new Promise((r) => probe.close(r));
  return {
    port,
    open: async (target) => {
      const [host, p] = target.split(':');
      const sockets = new Set<Socket>();
      const server = createServer((c) => {
        const u = connect(Number(p), host ?? '127.0.0.1');
        sockets.add(c).add(u);
        c.pipe(u).pipe(c);
        c.on('error', () => u.destroy());
        u.on('error', () => c.destroy());
      });
      server.on('close', () => { for (const s of sockets) s.destroy(); });
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      return server;
    },
  };
}
