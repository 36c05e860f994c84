/*
 * The wire format of the real-time source: what the kernel side (BPF ring buffer, proc connector,
 * sock_diag destroy notifications) hands to JavaScript. Shared by the BPF program (compiled with
 * clang -target bpf) and the user-space addon; agent/sources/linux/realtime/records.ts parses it.
 *
 * A delivery is one Buffer of back-to-back records. Every record starts with pw_header and is
 * `size` bytes long in total, padded to a multiple of 8. All integers are little-endian (the byte
 * order of every host this runs on; the parser checks `magic`).
 *
 * Clock: `start_ns` is the thread-group leader's start_boottime (ns since boot, CLOCK_BOOTTIME):
 * /proc/<pid>/stat field 22 is start_boottime / (1e9 / USER_HZ), so the JS side derives the same
 * start key as the polling path. `ts_ns` is bpf_ktime_get_boot_ns() (or clock_gettime(BOOTTIME)).
 */
#ifndef PORTWARDEN_RECORDS_H
#define PORTWARDEN_RECORDS_H

#ifndef __bpf__
#include <stdint.h>
typedef uint8_t pw_u8;
typedef uint16_t pw_u16;
typedef uint32_t pw_u32;
typedef int32_t pw_s32;
typedef uint64_t pw_u64;
#else
typedef __u8 pw_u8;
typedef __u16 pw_u16;
typedef __u32 pw_u32;
typedef __s32 pw_s32;
typedef __u64 pw_u64;
#endif

#define PW_MAGIC 0x5057u /* "PW" */

enum pw_type {
  PW_FORK = 1,     /* a new process (thread-group leader; threads are not reported) */
  PW_EXEC = 2,     /* execve succeeded; header describes the process after exec */
  PW_EXIT = 3,     /* the thread-group leader exited */
  PW_LISTEN = 4,   /* TCP socket entered LISTEN */
  PW_UNLISTEN = 5, /* TCP socket left LISTEN (to CLOSE) */
  PW_BIND = 6,     /* UDP socket bound (bind() returned 0) */
  PW_DESTROY = 7,  /* a socket was destroyed (sock_diag destroy notification; UDP, or TCP in proc_connector mode) */
  PW_LOST = 8,     /* records lost before user space saw them; pw_lost payload */
  PW_CONNECT = 9,  /* an outbound TCP connection attempt (connect(): CLOSE -> SYN_SENT); pw_conn payload */
};

/* Record header: 88 bytes. Fields the producer cannot know are 0 (uid/gid: 0xffffffff). */
struct pw_header {
  pw_u16 magic;     /* PW_MAGIC */
  pw_u16 type;      /* enum pw_type */
  pw_u16 size;      /* whole record, header included, multiple of 8 */
  pw_u16 flags;     /* PW_F_* */
  pw_u32 tgid;      /* process (thread group) id; for PW_FORK the child */
  pw_u32 tid;       /* thread that caused the event */
  pw_u32 ppid;      /* real_parent's tgid */
  pw_u32 uid;       /* real uid (init user namespace) */
  pw_u32 euid;      /* effective uid */
  pw_u32 gid;       /* real gid */
  pw_u32 netns;     /* network namespace inode, 0 when unknown */
  pw_u32 pad0;
  pw_u64 start_ns;  /* tgid's leader start_boottime */
  pw_u64 parent_start_ns; /* real_parent leader's start_boottime */
  pw_u64 ts_ns;     /* when the event happened, CLOCK_BOOTTIME */
  pw_u64 cgroup_id; /* cgroup v2 id, 0 when unknown */
  char comm[16];    /* task comm, NUL-padded */
};

#define PW_F_ARGS_TRUNCATED 0x1     /* exec: argv longer than PW_MAX_ARGS bytes or PW_MAX_ARGC args */
#define PW_F_FILENAME_TRUNCATED 0x2 /* exec: filename longer than PW_MAX_FILENAME */
#define PW_F_FROM_PROC 0x4          /* fields were read from /proc by user space, not from the kernel event */
#define PW_F_ARGS_MISSING 0x8       /* exec: argv could not be read (the process was already gone) */

#define PW_MAX_FILENAME 512
#define PW_MAX_ARGS 4096
#define PW_MAX_ARGC 256

/* PW_EXEC payload, after the header: filename_len bytes of filename (no NUL), then args_len bytes
 * of argv, each argument NUL-terminated (as /proc/<pid>/cmdline). Then padding to 8. */
struct pw_exec {
  pw_u16 filename_len;
  pw_u16 args_len;
  pw_u32 pad0;
  pw_u32 pgid; /* process group, 0 when unknown (the proc connector reads it from /proc/<pid>/stat with the rest; eBPF: 0) */
  pw_u32 sid;  /* session, the same */
};

/* PW_EXIT payload. */
struct pw_exit {
  pw_s32 exit_code; /* as wait(2) status: (code << 8) | signal */
  pw_u32 pad0;
};

/* PW_LISTEN / PW_UNLISTEN / PW_BIND / PW_DESTROY payload. The header's netns is the socket's. */
struct pw_sock {
  pw_u8 protocol;   /* 6 tcp, 17 udp */
  pw_u8 family;     /* 2 AF_INET, 10 AF_INET6 */
  pw_u16 port;      /* local port, host byte order */
  pw_u32 ifindex;   /* bound device, 0 when none */
  pw_u64 inode;     /* socket inode (as /proc/<pid>/fd and sock_diag name it), 0 when unknown */
  pw_u64 cookie;    /* socket cookie when known, else 0 */
  pw_u8 addr[16];   /* local address: IPv4 in the first 4 bytes (network order), IPv6 all 16 */
};

/* PW_CONNECT payload (136-byte record). The header describes the connecting task (connect() runs
 * in its context); its netns is the socket's. The source port is assigned after SYN_SENT is set
 * (inet_hash_connect follows tcp_set_state in tcp_v4/v6_connect), so sport is 0 unless the socket
 * was bound to a port before connect(). */
struct pw_conn {
  pw_u8 protocol;   /* 6 tcp */
  pw_u8 family;     /* 2 AF_INET, 10 AF_INET6 (an AF_INET6 socket may hold a v4-mapped peer) */
  pw_u16 sport;     /* local port, host byte order, 0 when not assigned yet */
  pw_u16 dport;     /* peer port, host byte order */
  pw_u16 pad0;
  pw_u32 suppressed; /* attempts of this process to this peer folded into the previous record (dedupe window) */
  pw_u32 pad1;
  pw_u8 saddr[16];  /* local address: IPv4 in the first 4 bytes (network order), IPv6 all 16 */
  pw_u8 daddr[16];  /* peer address, same layout */
};

/* The BPF programs' settings (the one entry of the pw_config array map), written by user space. */
struct pw_config {
  pw_u32 wakeup_bytes;   /* see portwarden.bpf.c: only the record that fills the ring this far wakes the reader */
  pw_u32 conn_flags;     /* PW_CONN_* */
  pw_u64 conn_window_ns; /* PW_CONNECT dedupe: one record per (process, peer address, peer port) per window; 0: every attempt */
};
#define PW_CONN_LOOPBACK 0x1 /* report connections to loopback (127/8, ::1, ::ffff:127/104) and to 0.0.0.0 / :: */

/* pw_conn_stats (per-CPU array) indexes: what the connection program did with each attempt. */
#define PW_CONN_REPORTED 0   /* a PW_CONNECT record was written (or dropped for want of room: pw_drops) */
#define PW_CONN_SUPPRESSED 1 /* folded into an earlier record by the dedupe window */
#define PW_CONN_LOOPBACK_SKIPPED 2 /* to loopback while PW_CONN_LOOPBACK is off */
#define PW_CONN_NSTATS 3

/* PW_LOST payload: how many records the producer dropped since the last PW_LOST. */
struct pw_lost {
  pw_u64 count;
};

#endif
