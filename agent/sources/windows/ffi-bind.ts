/**
 * Binds DLL exports one by one, so a system that lacks some of them (an older Windows, wine)
 * loses only what those functions gave. Each missing export is recorded once with what is lost;
 * the collector says so at start and in its limitations.
 */
export type Fn = (...args: unknown[]) => unknown;
export interface KoffiLib { func(proto: string): Fn }

export interface ExportSpec {
  dll: string;
  /** koffi prototype; the function name is the identifier before `(`. */
  proto: string;
  /** What the collector loses without it (said to the operator). */
  lost: string;
}

export interface MissingExport {
  /** `iphlpapi.dll!GetOwnerModuleFromTcpEntry` */
  fn: string;
  /** Why binding failed, as koffi said it (missing function, DLL not loadable). */
  reason: string;
  lost: string;
}

export function exportName(proto: string): string {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(proto);
  return m?.[1] ?? proto;
}

/**
 * Binds every spec it can. A DLL is opened once; a DLL that cannot be opened makes all of its
 * functions missing, each with that reason.
 */
export function bindExports<K extends string>(
  open: (dll: string) => KoffiLib,
  specs: Readonly<Record<K, ExportSpec>>,
): { fns: Partial<Record<K, Fn>>; missing: MissingExport[] } {
  const libs = new Map<string, KoffiLib | Error>();
  const fns: Partial<Record<K, Fn>> = {};
  const missing: MissingExport[] = [];
  for (const key of Object.keys(specs) as K[]) {
    const spec = specs[key];
    let lib = libs.get(spec.dll);
    if (lib === undefined) {
      try {
        lib = open(spec.dll);
      } catch (err) {
        lib = err instanceof Error ? err : new Error(String(err));
      }
      libs.set(spec.dll, lib);
    }
    const fn = `${spec.dll}!${exportName(spec.proto)}`;
    if (lib instanceof Error) {
      missing.push({ fn, reason: `${spec.dll} could not be loaded: ${lib.message}`, lost: spec.lost });
      continue;
    }
    try {
      fns[key] = lib.func(spec.proto);
    } catch (err) {
      missing.push({ fn, reason: (err as Error).message, lost: spec.lost });
    }
  }
  return { fns, missing };
}

/** One line per missing export, as logged and listed in the limitations. */
export function describeMissing(m: MissingExport): string {
  return `Win32 export ${m.fn} unavailable (${m.reason}): ${m.lost}`;
}
