// On a host with process churn most polls see processes come and go while the listening sockets
// stay the same; the Linux source then neither lists /proc (when /proc/loadavg accounts for the
// change) nor rebuilds its listener records. This checks, against real processes and sockets, that
// the owners it reports still follow every change that matters: a forked worker that inherits a
// listener, the holder that exits while the worker keeps it, processes that start and end meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { silentLogger } from '../../../agent/log/logger.js';
import { LinuxSource } from '../../../agent/sources/linux/index.js';
import type { Snapshot } from '../../../agent/sources/types.js';

const linux = process.platform === 'linux';

/** Listens on 127.0.0.1 (any port) and prints it; on SIGUSR1 forks a worker that keeps the socket and prints its pid. */
const SERVER = `
import os, signal, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
def fork(*_):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    print(pid, flush=True)
signal.signal(signal.SIGUSR1, fork)
while True:
    time.sleep(3600)
`;

/** Resolves with the next line the process prints. */
function nextLine(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (b: Buffer): void => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      proc.stdout?.off('data', onData);
      resolve(buf.slice(0, nl));
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code) => { reject(new Error(`server exited (${code})`)); });
  });
}

/** Polls (100 ms apart) until `check` returns a value. */
async function pollUntil<T>(source: LinuxSource, what: string, check: (snap: Snapshot) => T | undefined): Promise<T> {
  let last: Snapshot | undefined;
  for (let i = 0; i < 100; i++) {
    last = await source.poll();
    const v = check(last);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: not seen in 100 polls (${last?.listeners.length ?? 0} listeners, ${last?.processes.size ?? 0} processes)`);
}

/** The owner pids of the listener on 127.0.0.1:`port`. */
function ownersOf(snap: Snapshot, port: number): number[] | undefined {
  return snap.listeners.find((l) => l.transport === 'tcp' && l.address === '127.0.0.1' && l.port === port)?.owners;
}

test('under process churn the listener owners follow forks and exits, and new and ended processes are seen', { skip: !linux ? 'Linux only' : false, timeout: 120_000 }, async (t) => {
  const source = new LinuxSource({ logger: silentLogger });
  await source.start();
  for (let i = 0; i < 3000 && (i < 2 || source.pendingDetails > 0); i++) await source.poll();

  const server = spawn('python3', ['-c', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killAll: number[] = [];
  t.after(() => {
    for (const pid of killAll) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const parent = server.pid ?? assert.fail('no server pid');
  killAll.push(parent);
  const port = Number(await nextLine(server));
  await pollUntil(source, 'the listener with its owner', (s) => (ownersOf(s, port)?.join() === String(parent) ? true : undefined));

  // Short-lived processes come and go between polls; one long-lived process starts.
  for (let i = 0; i < 10; i++) spawnSync('true');
  const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
  const sleepPid = sleeper.pid ?? assert.fail('no sleep pid');
  killAll.push(sleepPid);
  // spawn() returns once the child has exec'd: the very next poll has it.
  const seen = (await source.poll()).processes.get(sleepPid) ?? assert.fail('the new process on the next poll');
  assert.equal(seen.name, 'sleep');
  // Read in full at once, unless other tests started more than a poll's budget of processes meanwhile.
  const full = await pollUntil(source, 'the new process read in full', (s) => {
    const r = s.processes.get(sleepPid);
    return r?.detailsPending === true ? undefined : r;
  });
  assert.equal(full.commandLine, 'sleep 300');
  assert.deepEqual(ownersOf(await source.poll(), port), [parent], 'the owner is unchanged by unrelated processes');

  // A worker forked from the holder inherits the socket: both hold it, the older first.
  const workerLine = nextLine(server);
  process.kill(parent, 'SIGUSR1');
  const worker = Number(await workerLine);
  killAll.push(worker);
  await pollUntil(source, 'the forked worker as a second owner', (s) => (ownersOf(s, port)?.join() === `${parent},${worker}` ? true : undefined));

  // The holder exits; the worker keeps the socket and is its only owner.
  process.kill(parent, 'SIGKILL');
  await pollUntil(source, 'the worker as the only owner', (s) => (ownersOf(s, port)?.join() === String(worker) ? true : undefined));

  // An ended process leaves the table on the next poll once it is reaped.
  process.kill(sleepPid, 'SIGKILL');
  for (let i = 0; i < 500 && existsSync(`/proc/${sleepPid}`); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(existsSync(`/proc/${sleepPid}`), false, 'reaped');
  const after = await source.poll();
  assert.equal(after.processes.has(sleepPid), false, 'the ended process is gone');
  assert.deepEqual(ownersOf(after, port), [worker]);
});
