/*
 * sock_diag.node: one NETLINK_SOCK_DIAG dump of listening sockets, filtered in the kernel:
 * TCP in LISTEN and UDP in CLOSE (bound, unconnected; what `ss -ul` shows as UNCONN), IPv4 and IPv6.
 *
 * dump(netnsPath?: string, previous?: Uint8Array) -> { rows: Buffer, ifnames: { [ifindex]: name } }
 * Each row is ROW_SIZE bytes, endianness-independent:
 *   0 u8 family (4|6)   1 u8 protocol (6 tcp|17 udp)   2 u16 port (big-endian)
 *   4 u32 inode (LE)    8 u32 uid (LE)                 12 u32 bound ifindex (LE)   16 16 bytes address
 * With netnsPath the socket is opened inside that namespace (a netlink socket stays bound to the
 * namespace it was created in); the calling thread returns to its own namespace right after.
 * Errors throw an Error whose `code` is the errno name (EPERM, ENOENT, ...).
 * When `previous` holds exactly the bytes of this dump, `rows` is `previous` itself: a steady host
 * dumps the same sockets every poll, and a fresh 64 KB Buffer per poll (2,000 listeners) would sit in
 * V8's young generation and the C heap until the next scavenge, tens of seconds later when idle.
 *
 * connections(netnsPath?: string) -> Buffer
 * Established TCP connections (IPv4 and IPv6) of the namespace, CONN_ROW_SIZE (72) bytes each:
 *   0 u8 family (4|6)   1 u8 flags (bit 0: byte counters known)   2 u16 local port (BE)
 *   4 u16 remote port (BE)   8 u32 inode (LE)   12 u32 uid (LE)   16 16 bytes local address
 *   32 16 bytes remote address   48 u32 receive queue (unread bytes, LE)   52 u32 send queue
 *   (unacknowledged and unsent, LE)   56 u64 bytes acknowledged by the peer (LE)
 *   64 u64 bytes received (LE); the counters are tcp_info's (kernel 4.1 and later).
 * What the owning process has written is bytes acknowledged + send queue, what it has read is
 * bytes received - receive queue: a relay's two connections agree on these.
 *
 * holders(procRoot: string, pids: Uint32Array, wanted: Uint32Array of socket inodes, sorted)
 *   -> { pairs: Uint32Array [pid, inode, pid, inode, ...], denied: Uint32Array, read: number }
 * Walks /proc/<pid>/fd of each pid (readlink of every entry, as `ss -p` does) and reports the
 * socket fds whose inode is in `wanted`. `denied` lists pids whose fd directory gave EACCES;
 * `read` counts the fd directories opened. A pid that exited meanwhile is skipped silently.
 *
 * basics(procRoot: string, pids: Uint32Array) -> Buffer
 * The light read of each process: /proc/<pid>/stat, the owner uid (of /proc/<pid>, as every entry in it) and the
 * /proc/<pid>/ns/net link, as records (little-endian)
 *   u32 pid   u32 uid   u8 nsLen   nsLen bytes link text   u16 statLen   statLen bytes stat text
 * A pid whose stat or uid cannot be read (it exited) has no record; nsLen is 0 when unreadable.
 *
 * starts(procRoot: string, pids: Uint32Array) -> Float64Array
 * What the first scan keeps of a process it reads in full later: [pid, ppid, start ticks (field 22
 * of /proc/<pid>/stat), network namespace inode (0 when unreadable)] per pid whose stat was read,
 * parsed here (no string per process). A vanished pid or a malformed stat has no entry.
 *
 * trimMemory() -> boolean
 * Returns the C heap's free pages to the kernel (glibc malloc_trim) after a burst of work such as the
 * first scan; false where the C library has no malloc_trim.
 *
 * sockProto(path: string) -> string | null
 * The protocol of the socket an fd link points at ("TCP", "TCPv6", "UNIX-STREAM", "UDP" ...), from
 * the socket's `system.sockprotoname` attribute: O(1), where the /proc/net tables are linear in
 * the namespace's connections. null for anything that is not a socket or cannot be read.
 *
 * limitArenas(n: number) -> boolean
 * Caps glibc's malloc arenas at n (mallopt M_ARENA_MAX, what MALLOC_ARENA_MAX does at start-up).
 * Threads that have not allocated yet (V8's and libuv's workers allocate on their first task) then
 * share arenas instead of each holding their own few MB; false where the C library cannot.
 *
 * This file is the N-API glue: it registers the functions, which live by concern in dump.c,
 * proc_walk.c and malloc.c (sock_diag.h lists them); util.c holds what they share.
 */
#include "sock_diag.h"

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    { "dump", sd_dump }, { "connections", sd_connections }, { "holders", sd_holders }, { "basics", sd_basics }, { "starts", sd_starts },
    { "trimMemory", sd_trim_memory }, { "sockProto", sd_sock_proto }, { "limitArenas", sd_limit_arenas },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok) return NULL;
  }
  return exports;
}
