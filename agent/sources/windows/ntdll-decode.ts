/**
 * Pure decoders for structures whose strings are pointers into the same output buffer:
 * SYSTEM_PROCESS_INFORMATION (NtQuerySystemInformation class 5, x64, phnt layout) and
 * TCPIP_OWNER_MODULE_BASIC_INFO (GetOwnerModuleFrom*Entry). `base` is the buffer's address,
 * so a pointer p is read at offset p - base.
 */
export const SystemProcessInformation = 5;
export const STATUS_INFO_LENGTH_MISMATCH = 0xc0000004;

const SPI = {
  nextEntryOffset: 0,
  createTime: 32,
  imageNameLength: 56,
  imageNameBuffer: 64,
  uniqueProcessId: 80,
  inheritedFromUniqueProcessId: 88,
  sessionId: 100,
  /** Bytes of the fixed part we read. */
  minSize: 104,
} as const;

export interface SystemProcessEntry {
  pid: number;
  ppid: number;
  /** Creation FILETIME; 0n for the idle process and System on some builds. */
  createTime: bigint;
  /** Image base name (`svchost.exe`); empty for the idle process. */
  imageName: string;
  sessionId: number;
}

export interface DecodedProcesses {
  entries: SystemProcessEntry[];
  warnings: string[];
}

/** Reads a UTF-16LE string of `byteLength` bytes at pointer `ptr`, or undefined when it lies outside the buffer. */
function readPointedUtf16(buf: Buffer, base: bigint, ptr: bigint, byteLength: number): string | undefined {
  if (ptr === 0n || byteLength === 0) return '';
  const off = ptr - base;
  if (off < 0n || off + BigInt(byteLength) > BigInt(buf.length)) return undefined;
  return buf.toString('utf16le', Number(off), Number(off) + byteLength);
}

/** Reads a NUL-terminated UTF-16LE string at pointer `ptr`. */
function readPointedCString16(buf: Buffer, base: bigint, ptr: bigint): string | undefined {
  if (ptr === 0n) return undefined;
  const off = ptr - base;
  if (off < 0n || off >= BigInt(buf.length)) return undefined;
  const start = Number(off);
  let end = start;
  while (end + 1 < buf.length && (buf[end] !== 0 || buf[end + 1] !== 0)) end += 2;
  return buf.toString('utf16le', start, end);
}

/** Walks entries by NextEntryOffset; stops (with a warning) at a truncated or looping chain. */
export function walkSystemProcessInformation(buf: Buffer, base: bigint): DecodedProcesses {
  const entries: SystemProcessEntry[] = [];
  const warnings: string[] = [];
  let off = 0;
  for (;;) {
    if (off + SPI.minSize > buf.length) {
      warnings.push(`process table truncated at offset ${off} (${buf.length} bytes)`);
      break;
    }
    const next = buf.readUInt32LE(off + SPI.nextEntryOffset);
    const pid = Number(buf.readBigUInt64LE(off + SPI.uniqueProcessId));
    const nameLen = buf.readUInt16LE(off + SPI.imageNameLength);
    const name = readPointedUtf16(buf, base, buf.readBigUInt64LE(off + SPI.imageNameBuffer), nameLen);
    if (name === undefined) warnings.push(`pid ${pid}: image name points outside the buffer`);
    entries.push({
      pid,
      ppid: Number(buf.readBigUInt64LE(off + SPI.inheritedFromUniqueProcessId)),
      createTime: buf.readBigInt64LE(off + SPI.createTime) < 0n ? 0n : buf.readBigUInt64LE(off + SPI.createTime),
      imageName: name ?? '',
      sessionId: buf.readUInt32LE(off + SPI.sessionId),
    });
    if (next === 0) break;
    if (next < SPI.minSize) {
      warnings.push(`process table: NextEntryOffset ${next} at offset ${off} is smaller than an entry`);
      break;
    }
    off += next;
  }
  return { entries, warnings };
}

export interface OwnerModule {
  moduleName?: string;
  modulePath?: string;
}

/** TCPIP_OWNER_MODULE_BASIC_INFO: `PWCHAR pModuleName` at 0 and `PWCHAR pModulePath` at 8. */
export function decodeOwnerModuleBasicInfo(buf: Buffer, base: bigint): OwnerModule {
  if (buf.length < 16) return {};
  const out: OwnerModule = {};
  const name = readPointedCString16(buf, base, buf.readBigUInt64LE(0));
  const path = readPointedCString16(buf, base, buf.readBigUInt64LE(8));
  if (name !== undefined && name.length > 0) out.moduleName = name;
  if (path !== undefined && path.length > 0) out.modulePath = path;
  return out;
}

/**
 * The owning service name: OWNER_MODULE rows carry a service tag, and the module name is the
 * service's (`RpcSs`) when the socket belongs to a service inside a shared host; for a plain
 * program it is the program's own file name, which is no service.
 */
export function serviceNameFromModule(module: OwnerModule, processImageName: string | undefined): string | undefined {
  const name = module.moduleName;
  if (name === undefined) return undefined;
  const image = (processImageName ?? '').toLowerCase();
  const pathBase = (module.modulePath ?? '').split('\\').pop()?.toLowerCase();
  if (name.toLowerCase() === image || name.toLowerCase() === pathBase) return undefined;
  if (/\.exe$/i.test(name)) return undefined;
  return name;
}
