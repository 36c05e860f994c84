import { isRecord, parsePsJson, str } from './powershell-json.js';
import type { ProcessRecord } from '../types.js';

/**
 * Authenticode signature (and, as a backup of the PE reader in agent/sources/pe/, the PE original
 * file name) of listener owners' executables, read once per path through the persistent
 * PowerShell (`Get-AuthenticodeSignature`, `VersionInfo.OriginalFilename`) and cached by path.
 */
export interface ExeMetadata {
  originalFileName?: string;
  codeSignature?: NonNullable<ProcessRecord['codeSignature']>;
}

/**
 * The paths come from the OS (a process can choose its own path), so they travel as base64 JSON,
 * never as text inside the script.
 */
export function exeMetadataScript(paths: readonly string[]): string {
  const b64 = Buffer.from(JSON.stringify(paths), 'utf8').toString('base64');
  return [
    `$paths = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${b64}')))`,
    '$rows = foreach ($p in @($paths)) {',
    '  $o = [ordered]@{ Path = $p; OriginalFileName = $null; Status = $null; Subject = $null }',
    '  try { $o.OriginalFileName = (Get-Item -LiteralPath $p -ErrorAction Stop).VersionInfo.OriginalFilename } catch {}',
    '  try { $s = Get-AuthenticodeSignature -LiteralPath $p -ErrorAction Stop; $o.Status = [string]$s.Status; if ($s.SignerCertificate) { $o.Subject = $s.SignerCertificate.Subject } } catch {}',
    '  [pscustomobject]$o }',
    'ConvertTo-Json -Compress -InputObject @($rows)',
  ].join('\n');
}

/** `CN=Microsoft Windows, O=Microsoft Corporation, L=Redmond` -> `Microsoft Windows`. */
export function subjectCommonName(subject: string): string | undefined {
  const m = /(?:^|,\s*)CN=("(?:[^"]|"")*"|[^,]*)/.exec(subject);
  const v = m?.[1]?.trim();
  if (v === undefined || v.length === 0) return undefined;
  return v.startsWith('"') ? v.slice(1, -1).replace(/""/g, '"') : v;
}

/** Authenticode status words (SignatureStatus enum names) to ECS code_signature fields. */
export function signatureFrom(status: string | undefined, subject: string | undefined): ExeMetadata['codeSignature'] {
  if (status === undefined) return undefined;
  if (status === 'NotSigned') return { exists: false };
  const out: NonNullable<ExeMetadata['codeSignature']> = { exists: true, trusted: status === 'Valid' };
  const cn = subject === undefined ? undefined : subjectCommonName(subject);
  if (cn !== undefined) out.subjectName = cn;
  return out;
}

export function parseExeMetadataJson(text: string): Map<string, ExeMetadata> {
  const out = new Map<string, ExeMetadata>();
  for (const o of parsePsJson(text)) {
    if (!isRecord(o)) continue;
    const path = str(o, 'Path');
    if (path === undefined) continue;
    const meta: ExeMetadata = {};
    const original = str(o, 'OriginalFileName');
    if (original !== undefined) meta.originalFileName = original;
    const sig = signatureFrom(str(o, 'Status'), str(o, 'Subject'));
    if (sig !== undefined) meta.codeSignature = sig;
    out.set(path.toLowerCase(), meta);
  }
  return out;
}
