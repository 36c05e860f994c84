// Fuzzing the Linux collectors' parsers: /proc text (stat, cmdline, links, cgroup, passwd, net
// tables), `ss` lines and the real-time records the eBPF program / proc connector deliver. None may
// throw: they are documented as never throwing on malformed input.
import { test } from 'node:test';
import fc from 'fast-check';
import {
  classifyFdLink, parseBtime, parseCgroupContainerId, parseCmdline, parseExeLink, parseNsLink, parsePasswd, parseProcNet,
  parseSocketLink, parseSsLine, parseStat, parseTaskCounters, tcpInodes,
} from '../../../agent/sources/linux/proc-parsers.js';
import { HEADER_SIZE, RecordType, parseRecords, splitArgs } from '../../../agent/sources/linux/realtime/records.js';
import { bytes, fuzz, recorded, text } from './support.js';

const linux = (name: string): Buffer => recorded('linux', name);

test('fuzz /proc/<pid>/stat, cmdline, exe, ns, fd links, cgroup, passwd, stat btime, task counters: never throw', () => {
  fuzz(text(linux('stat-dropper.txt'), linux('stat-weird-name.txt')), parseStat);
  fuzz(bytes(linux('cmdline-invalid-utf8.bin'), linux('cmdline-100k.bin').subarray(0, 4096)), parseCmdline);
  fuzz(text(linux('exe-link-deleted.txt'), Buffer.from('socket:[12345]'), Buffer.from('net:[4026531840]')), (s) => {
    parseExeLink(s);
    parseNsLink(s);
    parseSocketLink(s);
    classifyFdLink(s);
  });
  fuzz(text(linux('cgroup-docker.txt'), linux('cgroup-kubepods.txt')), parseCgroupContainerId);
  fuzz(text(Buffer.from('root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n')), parsePasswd);
  fuzz(text(Buffer.from('cpu  1 2 3\nbtime 1700000000\nprocesses 5\n')), (s) => { parseBtime(s); parseTaskCounters(s); });
});

test('fuzz /proc/net/{tcp,tcp6,udp,udp6} and `ss -ltnuHe` lines: never throw', () => {
  const seeds = ['proc-net-tcp.txt', 'proc-net-tcp6.txt', 'proc-net-udp.txt', 'proc-net-udp6.txt'].map(linux);
  fuzz(fc.tuple(text(...seeds), fc.constantFrom('tcp', 'udp'), fc.constantFrom('ipv4', 'ipv6')), ([s, transport, family]) => {
    parseProcNet(s, transport, family);
    tcpInodes(s);
  });
  const ss = linux('ss-ltnuHe.txt');
  fuzz(text(ss), (s) => { for (const line of s.split('\n')) parseSsLine(line); });
});

test('fuzz real-time records (eBPF ring buffer / proc connector deliveries): never throw', () => {
  // Seeds: one well-formed record of each type (magic, size, type; exec with a filename and argv).
  const seeds = Object.values(RecordType).map((type) => {
    const r = Buffer.alloc(HEADER_SIZE + 48);
    r.writeUInt16LE(0x5057, 0);
    r.writeUInt16LE(type, 2);
    r.writeUInt16LE(r.length, 4);
    r.writeUInt16LE(8, HEADER_SIZE);
    r.writeUInt16LE(16, HEADER_SIZE + 2);
    r.write('/bin/sh\0sh\0-c\0x\0', HEADER_SIZE + 16);
    return r;
  });
  fuzz(bytes(Buffer.concat(seeds), ...seeds), (b) => { parseRecords(b); splitArgs(b); });
});
