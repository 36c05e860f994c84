import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import type { CommandResult, CommandRunner } from '../../../../../agent/sources/darwin/command-runner.js';
import { createDarwinSource } from '../../../../../agent/sources/darwin/source.js';
import type { LocalTime } from '../../../../../agent/sources/darwin/ps-parse.js';
import type { ListenerRecord } from '../../../../../agent/sources/types.js';
import { fixture } from '../../../../../testkit/paths.js';

const utc: LocalTime = (y, mo, d, h, mi, s) => Date.UTC(y, mo, d, h, mi, s);
const read = (n: string) => readFileSync(fixture('darwin', n), 'utf8');

/** A recorded Mac: the runner is the only fake, and it checks the exact argument arrays. */
function recordedMac(over: Partial<Record<'tcp' | 'udp' | 'ps' | 'comm', CommandResult>> = {}) {
  const calls: string[] = [];
  const out: Record<string, CommandResult> = {
    tcp: { stdout: read('lsof-tcp-listen-F.txt'), stderr: '', code: 0 },
    udp: { stdout: read('lsof-udp-F.txt'), stderr: '', code: 0 },
    ps: { stdout: read('ps-lstart.txt'), stderr: '', code: 0 },
    comm: { stdout: read('ps-comm.txt'), stderr: '', code: 0 },
    ...over,
  };
  const runner: CommandRunner = {
    run(file, args, opts) {
      calls.push([file, ...args].join(' '));
      assert.equal(opts?.env?.LC_ALL, 'C', 'C locale so lstart is English');
      const line = [file, ...args].join(' ');
      const map: Record<string, string> = {
        'lsof -nP -w -iTCP -sTCP:LISTEN -FpcRuLfdtPnT': 'tcp',
        'lsof -nP -w -iUDP -FpcRuLfdtPn': 'udp',
        'ps -axww -o pid=,ppid=,uid=,user=,lstart=,args=': 'ps',
        'ps -axww -o pid=,comm=': 'comm',
      };
      const k = map[line];
      if (k === undefined) return Promise.reject(new Error(`unexpected command ${line}`));
      return Promise.resolve(out[k]!);
    },
  };
  return { runner, calls, out };
}

const key = (l: ListenerRecord & { zone?: string }) => `${l.transport} ${l.address}${l.zone === undefined ? '' : `%${l.zone}`}:${l.port}`;

test('macOS collector end to end over recorded lsof and ps output', async () => {
  const mac = recordedMac();
  const src = createDarwinSource({ logger: memoryLogger(), runner: mac.runner, root: true, localTime: utc });
  await src.start();
  const snap = await src.poll();
  assert.deepEqual(snap.warnings, []);
  assert.deepEqual(snap.listeners.map(key).sort(), [
    'tcp 0.0.0.0:22', 'tcp 0.0.0.0:8080', 'tcp 10.0.0.12:7000', 'tcp 127.0.0.1:5432', 'tcp 127.0.0.1:9222',
    'tcp ::1:5432', 'tcp ::1:9229', 'tcp :::22', 'tcp fe80::aede:48ff:fe00:1122%4:3000',
    'udp 0.0.0.0:5353', 'udp 127.0.0.1:123', 'udp :::5353', 'udp fe80::aede:48ff:fe00:1122%4:123',
  ]);
  const web = snap.listeners.find((l) => l.port === 8080)!;
  assert.deepEqual(web.owners, [2210, 2211], 'one shared socket, owners oldest first');
  assert.equal(web.netns, 'host');
  const launchd = snap.processes.get(1)!;
  assert.deepEqual([launchd.startKey, launchd.start, launchd.executable, launchd.userName, launchd.uid],
    ['1793621345', '2026-11-02T12:09:05.000Z', '/sbin/launchd', 'root', 0]);
  const sublime = snap.processes.get(560)!;
  assert.equal(sublime.executable, '/Applications/Sublime Text.app/Contents/MacOS/Sublime Text');
  assert.equal(sublime.name, 'Sublime Text');
  assert.equal(sublime.commandLine, '/Applications/Sublime Text.app/Contents/MacOS/Sublime Text -psn_0_110619');
  assert.equal(snap.processes.size, 384);
  const chrome = snap.listeners.find((l) => l.port === 9222)!;
  const helper = snap.processes.get(chrome.owners[0]!)!;
  assert.equal(helper.name, 'Google Chrome Helper');
  assert.equal(helper.ppid, 3290);
  assert.equal(snap.processes.get(3290)!.executable, '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome');
  const mdns = snap.listeners.find((l) => l.port === 5353 && l.family === 'ipv4')!;
  assert.deepEqual(mdns.owners, [194]);
  assert.equal(snap.processes.get(194)!.userName, '_mdnsresponder');
  assert.equal(src.info().platform, 'darwin');
  assert.deepEqual(src.info().limitations, []);
  await src.shutdown();
});

test('PID reuse by start time: a new start makes a new record; unchanged processes are the same object', async () => {
  const mac = recordedMac();
  const src = createDarwinSource({ logger: memoryLogger(), runner: mac.runner, root: true, localTime: utc });
  const a = await src.poll();
  mac.out.ps = { ...mac.out.ps!, stdout: mac.out.ps!.stdout.replace(/^\s*412 .*$/m, '  412  3350   501 kbrazil          Mon Nov  2 16:00:00 2026     /bin/sleep 60') };
  const b = await src.poll();
  assert.equal(b.processes.get(1), a.processes.get(1));
  const reused = b.processes.get(412)!;
  assert.notEqual(reused, a.processes.get(412));
  assert.deepEqual([reused.ppid, reused.startKey, reused.commandLine], [3350, String(Date.UTC(2026, 10, 2, 16) / 1000), '/bin/sleep 60']);
  await src.shutdown();
});

test('dead parents are kept as ps reports them', async () => {
  const mac = recordedMac({ ps: { stdout: ' 9999  8888     0 root    Sat Jul  4 00:00:00 2020     /usr/bin/orphan\n', stderr: '', code: 0 } });
  const src = createDarwinSource({ logger: memoryLogger(), runner: mac.runner, root: true, localTime: utc });
  const snap = await src.poll();
  assert.equal(snap.processes.get(9999)!.ppid, 8888);
  assert.equal(snap.processes.has(8888), false);
  assert.equal(snap.processes.get(9999)!.name, 'orphan', 'name from args when comm is missing');
});

test('not root: the limitation says other users\' listeners are missing entirely; lsof "nothing found" is not an error', async () => {
  const mac = recordedMac({ udp: { stdout: '', stderr: '', code: 1 } });
  const log = memoryLogger();
  const src = createDarwinSource({ logger: log, runner: mac.runner, root: false, localTime: utc });
  await src.start();
  const snap = await src.poll();
  assert.equal(snap.listeners.filter((l) => l.transport === 'udp').length, 0);
  assert.deepEqual(snap.warnings, []);
  assert.equal(src.info().privileged, false);
  assert.match(src.info().limitations[0] ?? '', /other users' processes .* missing entirely/);
  assert.ok(log.records.some((r) => r.level === 'warn'));
});

test('a failing ps makes the collector blind (poll rejects); lsof failing with output is a warning', async () => {
  const blind = recordedMac({ ps: { stdout: '', stderr: 'ps: permission denied', code: 1 } });
  const src = createDarwinSource({ logger: memoryLogger(), runner: blind.runner, root: true, localTime: utc });
  await assert.rejects(src.poll(), /ps exited 1: ps: permission denied/);
  const partial = recordedMac({ tcp: { stdout: read('lsof-tcp-listen-F.txt'), stderr: 'lsof: WARNING: can\'t stat() nfs', code: 1 } });
  const src2 = createDarwinSource({ logger: memoryLogger(), runner: partial.runner, root: true, localTime: utc });
  const snap = await src2.poll();
  assert.equal(snap.listeners.length, 13);
  assert.match(snap.warnings[0] ?? '', /lsof exited 1/);
});

test('lsof missing from PATH: the poll fails with the tool, where macOS keeps it, and what to check', async () => {
  const mac = recordedMac();
  const runner: CommandRunner = {
    run: (file, args, opts) => (file === 'lsof' ? Promise.reject(new Error('lsof not found')) : mac.runner.run(file, args, opts)),
  };
  const src = createDarwinSource({ logger: memoryLogger(), runner, root: true, localTime: utc });
  await assert.rejects(src.poll(), /lsof not found: macOS ships it as \/usr\/sbin\/lsof; check the agent's PATH/);
});

test('the real exec runner: argument arrays, exit codes as results, missing programs as errors', async () => {
  const { createExecRunner } = await import('../../../../../agent/sources/darwin/command-runner.js');
  const r = createExecRunner(10_000);
  const ok = await r.run(process.execPath, ['-e', 'process.stdout.write(process.argv[1] + "|" + process.env.LC_ALL); process.exit(1)', 'a b;$(x)'], { env: { LC_ALL: 'C' } });
  assert.deepEqual(ok, { stdout: 'a b;$(x)|C', stderr: '', code: 1 }, 'data is an argument, never shell text');
  await assert.rejects(r.run('portwarden-no-such-tool', []), /portwarden-no-such-tool not found/);
});
