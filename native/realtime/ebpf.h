/*
 * The libbpf side of realtime.node: opens portwarden.bpf.o, picks tp_btf or classic tracepoints,
 * attaches, and drains the ring buffer into one growable buffer of records.h records.
 * No N-API in here; addon.c does the JavaScript side.
 */
#ifndef PORTWARDEN_EBPF_H
#define PORTWARDEN_EBPF_H

#include <stddef.h>
#include <stdint.h>
#include "../common/errno_name.h"

#define PW_MAX_LINKS 8
#define PW_MAX_MISSING 4

struct bpf_object;
struct bpf_link;
struct ring_buffer;

struct pw_out {
  uint8_t *data;
  size_t len, cap;
  int oom; /* a record did not fit and could not be grown for */
};

struct pw_ebpf {
  struct bpf_object *obj;
  struct ring_buffer *rb;
  struct bpf_link *links[PW_MAX_LINKS];
  const char *names[PW_MAX_LINKS]; /* program names of the links (string constants) */
  int nlinks;
  int drops_fd;
  int ncpus;
  uint64_t *percpu;     /* ncpus counters, lookup buffer for pw_drops */
  uint64_t drops_total; /* last sum read from the kernel */
  uint64_t drops_told;  /* how many of them a PW_LOST record has reported */
  const char *attach;   /* "tp_btf" or "tracepoint" */
  char missing[PW_MAX_MISSING][256];
  int nmissing;
  uint32_t ring_bytes;
  uint32_t wakeup_bytes; /* 0: wake the reader whenever it has caught up */
  int config_fd;         /* pw_config, to switch wakeup_bytes while running */
  struct pw_out out;
  /* Outbound connections (PW_CONNECT): the pw_conn_* program is loaded only when conn_on. */
  int conn_on;
  uint32_t conn_flags;     /* PW_CONN_* */
  uint64_t conn_window_ns; /* dedupe window, 0: every attempt */
  int conn_attached;       /* the connection program runs */
  int conn_stats_fd;
};

/* What pw_ebpf_open is asked about outbound connections; NULL: not wanted (no program attached). */
struct pw_conn_opts {
  uint32_t flags;     /* PW_CONN_LOOPBACK */
  uint64_t window_ns; /* dedupe window */
};

/* Opens, loads and attaches. prefer_tracepoint skips the tp_btf attempt. wakeup_bytes: only the
 * record that brings the unread data to this many bytes wakes the reader (0: every record when the
 * reader has caught up). On failure returns a negative errno, fills msg ("<step>: <strerror>
 * (<likely cause>)") and leaves e closed. */
int pw_ebpf_open(struct pw_ebpf *e, const char *object, uint32_t ring_bytes, uint32_t wakeup_bytes,
                 int prefer_tracepoint, const struct pw_conn_opts *conn, char *msg, size_t msglen);

/* The connection program's counters summed over CPUs: out[PW_CONN_REPORTED], [PW_CONN_SUPPRESSED],
 * [PW_CONN_LOOPBACK_SKIPPED] (records.h). Returns 0, or -errno (all zero when not attached). */
int pw_ebpf_conn_stats(struct pw_ebpf *e, uint64_t out[3]);

/* Detaches everything and frees; idempotent. Keeps drops_total for pw_ebpf_lost(). */
void pw_ebpf_close(struct pw_ebpf *e);

int pw_ebpf_epoll_fd(const struct pw_ebpf *e);

/* Switches how the kernel wakes the reader (see pw_ebpf_open's wakeup_bytes). Returns 0 or -errno. */
int pw_ebpf_set_wakeup(struct pw_ebpf *e, uint32_t wakeup_bytes);

/* Empties the ring buffer into e->out (reset first): a PW_LOST record first when the drop counter
 * grew since the last call, then every record available. Returns 0 or a negative errno. */
int pw_ebpf_drain(struct pw_ebpf *e);

/* Total records dropped in the kernel so far (reads the counters when open). */
uint64_t pw_ebpf_lost(struct pw_ebpf *e);

/* Whether the kernel BTF is readable, and whether syscalls/sys_exit_bind exists under tracefs. */
int pw_probe_btf(void);
int pw_probe_tracefs(void);

#endif
