/**
 * Which programs count as shell-like: their stdin is worth checking against the TCP table (reverse
 * and bind shells; the `pw-lnx-shell-tcp-stdin` rule in config/rules/linux.yaml). Detection policy,
 * so it lives here; the Linux collector takes the predicate as an option (`stdinChecked`), given
 * by agent/app/context.ts. No other import: the running agent loads this file alone.
 */
const SHELL_LIKE = /^(?:[a-z]*sh|busybox|python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|php[0-9.]*|lua[0-9.]*|node|nc|ncat|socat)$/;

/** Whether a process named `comm` is shell-like. */
export function isShellLike(comm: string): boolean {
  return SHELL_LIKE.test(comm);
}
