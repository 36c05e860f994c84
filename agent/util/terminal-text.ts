/**
 * Strings from the host (process names, command lines, user names, paths) are untrusted: a process
 * named `ESC]0;...BEL` retitles the operator's terminal, `ESC[2J` clears it. Every human-readable
 * output passes them through `visible`; `--json` and shipped events keep the exact values.
 */

// C0 (tab and newline included: a table cell or an event line is one line), DEL, C1, the bidi
// embeddings, overrides and isolates (they reorder what follows them), and lone surrogates (text
// that was not valid UTF-16, shown rather than turned into U+FFFD by the terminal's encoder;
// with the `u` flag a surrogate class matches only unpaired ones).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every control, bidi-override and lone-surrogate character shown as `\xNN` / `\uNNNN`. */
export function visible(s: string): string {
  return s.replace(UNSAFE, escapeOne);
}

/** `visible` line by line: the newlines of multi-line text stay, everything else is escaped. */
export function visibleLines(text: string): string {
  return text.split('\n').map(visible).join('\n');
}

/**
 * One control character as visible text (`\t`, `\r`, `\n`, `\xNN`): for wire formats without a
 * hex escape of their own (CEF, LEEF), which then escape its backslash.
 */
export function controlText(ch: string): string {
  return escapeOne(ch);
}
