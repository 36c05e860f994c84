// Fuzzing the macOS and Windows collectors' parsers on any host: lsof -F fields, ps, netstat -ano
// (any code page), PowerShell JSON / Format-List, the IP Helper tables and the NtQuerySystemInformation
// process list. Text parsers never throw; the PowerShell JSON parsers may throw the JSON parser's
// SyntaxError (the caller counts the read as failed) or a PortwardenError they raise themselves.
import { test } from 'node:test';
import fc from 'fast-check';
import { lsofEndpoint, parseLsofFields } from '../../../agent/sources/darwin/lsof-parse.js';
import { parsePsComm, parsePsLstart } from '../../../agent/sources/darwin/ps-parse.js';
import { parseCimListenersJson } from '../../../agent/sources/windows/cim-listeners.js';
import { parseExeMetadataJson } from '../../../agent/sources/windows/exe-metadata.js';
import { parseFirewallCmdletJson } from '../../../agent/sources/windows/firewall-cmdlets.js';
import { parseFirewallJson } from '../../../agent/sources/windows/firewall-state.js';
import { decodeTable, rowSize } from '../../../agent/sources/windows/iphlp-decode.js';
import type { TableKind } from '../../../agent/sources/windows/iphlp-decode.js';
import { decodeNetstatOutput, parseNetstat } from '../../../agent/sources/windows/netstat-parse.js';
import { decodeOwnerModuleBasicInfo, walkSystemProcessInformation } from '../../../agent/sources/windows/ntdll-decode.js';
import { parseFormatList, parsePsDate, splitCommandLine, splitUser } from '../../../agent/sources/windows/powershell-json.js';
import { parseWin32ProcessJson, win32RowsFromRecords } from '../../../agent/sources/windows/win32-process.js';
import { PortwardenError } from '../../../agent/util/errors.js';
import { bytes, fuzz, recorded, text } from './support.js';

const darwin = (n: string): Buffer => recorded('darwin', n);
const windows = (n: string): Buffer => recorded('windows', n);
const jsonOrOurs = (err: unknown): boolean => err instanceof SyntaxError || err instanceof PortwardenError;

/** JSON text: random, mutated recordings, or generated JSON values (valid JSON of any shape). */
const json = (...seeds: Buffer[]): fc.Arbitrary<string> => fc.oneof(text(...seeds), fc.jsonValue().map((v) => JSON.stringify(v)));

test('fuzz lsof -F and ps output (macOS collector): never throw', () => {
  fuzz(text(darwin('lsof-tcp-listen-F.txt'), darwin('lsof-udp-F.txt')), (s) => {
    for (const sock of parseLsofFields(s).sockets) lsofEndpoint(sock);
  });
  fuzz(text(darwin('ps-lstart.txt'), darwin('ps-comm.txt'), darwin('macos-10.14.6-ps-ef.txt')), (s) => {
    parsePsLstart(s);
    parsePsComm(s);
  });
});

test('fuzz netstat -ano in any language and code page (Windows fallback collector): never throws', () => {
  const seeds = ['netstat-ano-de-DE-cp850.txt', 'netstat-ano-fr-FR-cp850.txt', 'windows-netstat-aon-en-US.txt', 'windows-netstat-aonb-en-US.txt'].map(windows);
  fuzz(bytes(...seeds), (b) => parseNetstat(decodeNetstatOutput(b)));
});

test('fuzz PowerShell JSON and Format-List output: only a JSON SyntaxError or our own typed error', () => {
  const seeds = ['ps-get-nettcpconnection-single.json', 'ps7-get-netudpendpoint.json', 'ps-win32-process-list.json', 'ps-win32-process-details.json',
    'ps-exe-metadata.json', 'ps-firewall.json', 'ps-firewall-cmdlets.json'].map(windows);
  const readAt = new Date(0);
  fuzz(json(...seeds), (s) => {
    for (const f of [
      () => parseCimListenersJson(s, 'tcp'), () => parseCimListenersJson(s, 'udp'), () => parseWin32ProcessJson(s), () => parseExeMetadataJson(s),
      () => parseFirewallJson(s, readAt), () => parseFirewallCmdletJson(s, readAt),
    ]) {
      try { f(); } catch (err) { if (!jsonOrOurs(err)) throw err; }
    }
  });
  fuzz(text(windows('ps-win32-process-format-list.txt')), (s) => {
    win32RowsFromRecords(parseFormatList(s));
    splitCommandLine(s);
    splitUser(s);
    parsePsDate(s);
  });
});

test('fuzz IP Helper tables and the NtQuerySystemInformation process list (Windows native collector): never throw', () => {
  const kinds: TableKind[] = ['tcp4', 'tcp6', 'udp4', 'udp6'];
  const tables = kinds.flatMap((k) => (['pid', 'module'] as const).map((variant) => {
    const b = Buffer.alloc(8 + 3 * rowSize(k, variant));
    b.writeUInt32LE(3, 0);
    return { k, variant, b };
  }));
  fuzz(fc.tuple(fc.constantFrom(...tables), bytes(...tables.map((t) => t.b))), ([t, b]) => decodeTable(t.k, b, t.variant));
  const base = 0x10000n;
  fuzz(fc.tuple(bytes(), fc.bigInt({ min: 0n, max: 0xffffn })), ([b, off]) => {
    walkSystemProcessInformation(b, base + off);
    decodeOwnerModuleBasicInfo(b, base + off);
  });
});
