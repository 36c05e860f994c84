/**
 * A PowerShell structure check for the deploy scripts, since no PowerShell can run in CI (Debian
 * has none; wine's powershell.exe is a stub): strings, comments and brackets must close, `param()`
 * must be the first statement (PowerShell rejects it anywhere else), and, as Set-StrictMode
 * -Version Latest would at run time, no variable may be read before it is assigned.
 */
export interface Ps1Check { problems: string[]; params: string[] }

const AUTOMATIC = new Set(['true', 'false', 'null', '_', 'psscriptroot', 'lastexitcode', 'erroractionpreference', 'psboundparameters', 'args', 'pscmdlet', 'error', 'home', 'pwd', 'host']);

export function checkPs1(src: string): Ps1Check {
  const problems: string[] = [];
  const code: string[] = []; // the source with strings and comments blanked out (same length)
  const stack: { ch: string; line: number }[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  let line = 1;
  let i = 0;
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  while (i < src.length) {
    const c = src[i]!;
    const rest = src.slice(i);
    if (rest.startsWith('<#')) {
      const end = src.indexOf('#>', i + 2);
      if (end < 0) { problems.push(`line ${line}: block comment <# never closed`); break; }
      const chunk = src.slice(i, end + 2);
      code.push(blank(chunk)); line += chunk.split('\n').length - 1; i = end + 2; continue;
    }
    if (c === '#') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      code.push(blank(src.slice(i, stop))); i = stop; continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= src.length) { problems.push(`line ${line}: string ${c} never closed`); break; }
        if (c === '"' && src[j] === '`') { j += 2; continue; }
        if (src[j] === c) { if (src[j + 1] === c) { j += 2; continue; } break; }
        j++;
      }
      const chunk = src.slice(i, j + 1);
      // Variables inside double quotes are read: keep them visible to the variable check.
      code.push(c === '"' ? chunk.replace(/[^\n$A-Za-z0-9_:]/g, ' ') : blank(chunk));
      line += chunk.split('\n').length - 1; i = j + 1; continue;
    }
    if (c === '\n') line++;
    if ('({['.includes(c)) stack.push({ ch: c, line });
    if (c in pairs) {
      const open = stack.pop();
      if (open?.ch !== pairs[c]) problems.push(`line ${line}: ${c} closes ${open === undefined ? 'nothing' : `${open.ch} of line ${open.line}`}`);
    }
    code.push(c); i++;
  }
  for (const o of stack) problems.push(`line ${o.line}: ${o.ch} never closed`);
  const text = code.join('');

  // param() first: only [CmdletBinding()]-style attributes may precede it.
  const first = /^\s*((?:\[[A-Za-z]+\([^)]*\)\]\s*)*)(\S+)/.exec(text);
  if (first?.[2]?.toLowerCase().startsWith('param(') !== true) problems.push(`the first statement is "${first?.[2] ?? ''}", not param(...)`);
  const paramStart = text.toLowerCase().indexOf('param(');
  let depth = 0;
  let paramEnd = paramStart;
  for (let k = paramStart + 5; k < text.length; k++) {
    if (text[k] === '(') depth++;
    if (text[k] === ')' && --depth === 0) { paramEnd = k; break; }
  }
  const paramText = text.slice(paramStart, paramEnd);
  // A parameter is a variable after its type (`[string]$Source`) or first on its line.
  const params = [...paramText.matchAll(/(?:\]|^)[ \t]*\$([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]!);
  const known = new Set(params.map((p) => p.toLowerCase()));
  const body = text.slice(paramEnd);
  for (const m of body.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)(:?)/g)) {
    const name = m[1]!.toLowerCase();
    if (m[2] === ':' || AUTOMATIC.has(name) || known.has(name)) continue;
    const after = body.slice(m.index + m[0].length);
    const before = body.slice(Math.max(0, m.index - 20), m.index);
    if (/^\s*=[^=]/.test(after) || /foreach\s*\(\s*$/i.test(before)) { known.add(name); continue; }
    const at = text.slice(0, paramEnd + m.index).split('\n').length;
    problems.push(`line ${at}: $${m[1]!} is read before it is assigned`);
  }
  for (const p of params) {
    if (!new RegExp(`\\$${p}\\b`, 'i').test(text.slice(paramEnd))) problems.push(`parameter $${p} is never used`);
  }
  return { problems, params };
}
