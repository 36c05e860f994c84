import { splitEndpoint } from './address.js';
import type { Transport } from '../types.js';

/**
 * `netstat -ano` (optionally `-b`) parser. Titles, headers and (in German) state words are
 * localised, so rows are recognised by their first token (`TCP`/`UDP`, never translated) and a
 * TCP row is a listener when its foreign port is 0; the state word is normalised but not needed.
 */
export interface NetstatRow {
  transport: Transport;
  address: string;
  port: number;
  foreignAddress: string;
  /** Undefined for UDP (`*:*`). */
  foreignPort: number | undefined;
  /** Canonical English state (`LISTENING`), or the raw word when unknown; undefined for UDP. */
  state?: string;
  pid: number | undefined;
  listener: boolean;
  /** From `-b`: the service line (`RpcSs`) and the image line (`[svchost.exe]`). */
  serviceName?: string;
  imageName?: string;
}

const STATES: Record<string, string> = {
  LISTENING: 'LISTENING', ESTABLISHED: 'ESTABLISHED', TIME_WAIT: 'TIME_WAIT', CLOSE_WAIT: 'CLOSE_WAIT',
  SYN_SENT: 'SYN_SENT', SYN_RECEIVED: 'SYN_RECEIVED', FIN_WAIT_1: 'FIN_WAIT_1', FIN_WAIT_2: 'FIN_WAIT_2',
  LAST_ACK: 'LAST_ACK', CLOSING: 'CLOSING', CLOSED: 'CLOSED', BOUND: 'BOUND',
  // German Windows translates state words (its console shows Ö as OEM byte 0x99).
  'ABH?REN': 'LISTENING', HERGESTELLT: 'ESTABLISHED', WARTEND: 'TIME_WAIT', SCHLIESSEN_WARTEN: 'CLOSE_WAIT',
  SYN_GESENDET: 'SYN_SENT', SYN_EMPFANGEN: 'SYN_RECEIVED', FIN_WARTEN_1: 'FIN_WAIT_1', FIN_WARTEN_2: 'FIN_WAIT_2',
  'LETZTE_BEST?TIGUNG': 'LAST_ACK', 'SCHLIE?EN': 'CLOSING', GESCHLOSSEN: 'CLOSED', GEBUNDEN: 'BOUND',
};

/**
 * Maps a state word to English. Every non-ASCII run becomes `?`, so `ABHÖREN`, `ABH™REN`
 * (CP850 shown as Windows-1252), `ABH\uFFFDREN` (CP850 read as UTF-8) and `ABHÃ–REN` agree.
 */
export function normaliseState(word: string): string {
  const key = word.toUpperCase().replace(/[^\x21-\x7e]+/g, '?');
  return STATES[key] ?? word;
}

const CP850_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0';

/** netstat writes the OEM code page: UTF-8 when it decodes cleanly (chcp 65001), else CP850. */
export function decodeNetstatOutput(bytes: Buffer): string {
  const utf8 = bytes.toString('utf8');
  if (!utf8.includes('\uFFFD')) return utf8;
  let out = '';
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : (CP850_HIGH[b - 0x80] ?? '?');
  return out;
}

export interface NetstatParse {
  rows: NetstatRow[];
  warnings: string[];
}

export function parseNetstat(text: string): NetstatParse {
  const rows: NetstatRow[] = [];
  const warnings: string[] = [];
  let last: NetstatRow | undefined;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.replace(/\r+$/, '');
    const tokens = line.trim().split(/\s+/);
    const proto = tokens[0]?.toUpperCase();
    if (proto !== 'TCP' && proto !== 'UDP') {
      if (last !== undefined) attachOwnerLine(last, line);
      continue;
    }
    last = undefined;
    const row = parseRow(proto === 'TCP' ? 'tcp' : 'udp', tokens);
    if (row === undefined) {
      warnings.push(`netstat: unparsable row "${line.trim()}"`);
      continue;
    }
    rows.push(row);
    last = row;
  }
  return { rows, warnings };
}

function parseRow(transport: Transport, tokens: string[]): NetstatRow | undefined {
  const local = splitEndpoint(tokens[1] ?? '');
  const foreign = splitEndpoint(tokens[2] ?? '');
  if (local?.port === undefined || foreign === undefined) return undefined;
  const pidText = transport === 'tcp' ? tokens[4] : tokens[3];
  const pid = pidText !== undefined && /^\d+$/.test(pidText) ? Number(pidText) : undefined;
  const row: NetstatRow = {
    transport,
    address: local.address,
    port: local.port,
    foreignAddress: foreign.address,
    foreignPort: foreign.port,
    pid,
    listener: transport === 'udp' ? foreign.port === undefined : foreign.port === 0,
  };
  if (transport === 'tcp' && tokens[3] !== undefined) row.state = normaliseState(tokens[3]);
  return row;
}

/** `-b` lines under a row: `  RpcSs` (service), ` [svchost.exe]` (image) or a localised "cannot obtain" sentence. */
function attachOwnerLine(row: NetstatRow, line: string): void {
  const t = line.trim();
  if (t.length === 0) return;
  const image = /^\[(.+)\]$/.exec(t);
  if (image?.[1] !== undefined) {
    row.imageName = image[1];
    return;
  }
  if (/^\S+$/.test(t) && row.imageName === undefined) row.serviceName = t;
}
