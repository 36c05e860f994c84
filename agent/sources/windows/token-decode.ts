/**
 * Pure decoders for what native-ffi.ts reads about one process: its token's integrity level and
 * its working directory (x64 layouts: the agent runs as the x64 node.exe).
 */

/** Mandatory integrity RIDs (S-1-16-RID) and the names Sysmon writes for them. */
const LEVELS: readonly [number, string][] = [
  [0x0000, 'Untrusted'], [0x1000, 'Low'], [0x2000, 'Medium'], [0x2100, 'MediumPlus'],
  [0x3000, 'High'], [0x4000, 'System'], [0x5000, 'Protected'],
];

/** `S-1-16-12288` -> `High`: the highest level at or below the RID, as Windows ranks them. */
export function integrityName(rid: number): string {
  let name = 'Untrusted';
  for (const [r, n] of LEVELS) if (rid >= r) name = n;
  return name;
}

/**
 * TOKEN_MANDATORY_LABEL: a SID_AND_ATTRIBUTES (pointer, attributes) whose SID Windows places right
 * after it. Returns the level name, or undefined when the bytes are not a mandatory label SID.
 */
export function decodeIntegrityLevel(buf: Buffer, pointerSize = 8): string | undefined {
  const at = pointerSize * 2;
  if (buf.length < at + 12) return undefined;
  const revision = buf[at];
  const count = buf[at + 1] ?? 0;
  // SECURITY_MANDATORY_LABEL_AUTHORITY {0,0,0,0,0,16}
  const authority = buf.subarray(at + 2, at + 8);
  if (revision !== 1 || count < 1 || authority.readUIntBE(0, 6) !== 16) return undefined;
  const last = at + 8 + (count - 1) * 4;
  if (last + 4 > buf.length) return undefined;
  return integrityName(buf.readUInt32LE(last));
}

const MAX_PATH_BYTES = 32767 * 2;

/**
 * PEB -> RTL_USER_PROCESS_PARAMETERS -> CurrentDirectory.DosPath, read through `mem`. A WOW64
 * process is read through its 64-bit PEB too: its parameters there hold the directory it started
 * in (what Sysmon reports as CurrentDirectory), not later changes made by its 32-bit code.
 */
export function readWorkingDirectory(pbi: Buffer, mem: (addr: bigint, len: number) => Buffer | undefined): string | undefined {
  if (pbi.length < 16) return undefined;
  const peb = pbi.readBigUInt64LE(8);
  if (peb === 0n) return undefined;
  const params = mem(peb + 0x20n, 8);
  if (params === undefined || params.length < 8) return undefined;
  const pp = params.readBigUInt64LE(0);
  if (pp === 0n) return undefined;
  const us = mem(pp + 0x38n, 16);
  if (us === undefined || us.length < 16) return undefined;
  const len = us.readUInt16LE(0);
  const text = us.readBigUInt64LE(8);
  if (len === 0 || len > MAX_PATH_BYTES || len % 2 !== 0 || text === 0n) return undefined;
  const path = mem(text, len);
  if (path?.length !== len) return undefined;
  const dir = path.toString('utf16le');
  // Sysmon reports the directory as the PEB holds it, with its trailing backslash (C:\Windows\system32\).
  return dir;
}
