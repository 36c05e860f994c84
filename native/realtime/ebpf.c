/*
 * libbpf side of realtime.node (see ebpf.h). Attach modes:
 *   tp_btf      pw_*_btf programs, attached through the kernel BTF (no tracefs needed)
 *   tracepoint  pw_*_tp programs, classic tracepoints (need tracefs for the event ids)
 * The UDP bind pair (classic tracepoints syscalls/sys_{enter,exit}_bind) is loaded in both modes
 * when tracefs shows the event, and is optional: without it describe() says binds are not seen.
 * The outbound connection program (pw_conn_btf or pw_conn_tp, the same mode as the core set) is
 * loaded only when asked for, and is optional too.
 */
#define _GNU_SOURCE
#include "ebpf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "records.h"

/* The programs of portwarden.bpf.c, by role. */
static const char *const core_btf[] = {"pw_fork_btf", "pw_exec_btf", "pw_exit_btf", "pw_sock_btf"};
static const char *const core_tp[] = {"pw_fork_tp", "pw_exec_tp", "pw_exit_tp", "pw_sock_tp"};
static const char *const bind_progs[] = {"pw_bind_enter", "pw_bind_exit"};
static const char *const conn_progs[] = {"pw_conn_btf", "pw_conn_tp"}; /* [0] tp_btf, [1] tracepoint */
#define NCORE 4

static const char *const tracefs_roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

/* libbpf's own messages: never printed, the last few warnings kept for the Error text. */
static char last_libbpf[3][200];
static int last_next;

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level != LIBBPF_WARN) return 0;
  char line[200];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ')) line[--n] = '\0';
  if (n == 0) return 0;
  memcpy(last_libbpf[last_next], line, n + 1);
  last_next = (last_next + 1) % 3;
  return 0;
}

static void libbpf_clear(void) {
  memset(last_libbpf, 0, sizeof last_libbpf);
  last_next = 0;
}

/* Oldest first, " | " between. */
static void libbpf_last(char *buf, size_t len) {
  buf[0] = '\0';
  for (int i = 0; i < 3; i++) {
    const char *l = last_libbpf[(last_next + i) % 3];
    if (l[0] == '\0') continue;
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used > 0 ? " | " : "", l);
  }
}

/* A likely cause, in plain words, for a failed step. */
static const char *cause(const char *step, int e) {
  int attach_tp = strncmp(step, "attach tracepoint", 17) == 0;
  switch (e) {
    case EPERM:
      return "needs CAP_BPF and CAP_PERFMON, or root; kernel.unprivileged_bpf_disabled and lockdown also refuse";
    case EACCES:
      return strstr(step, "load") ? "the verifier rejected a program, or CAP_BPF and CAP_PERFMON are missing"
                                  : "needs CAP_BPF and CAP_PERFMON, or root";
    case ENOENT:
      if (strstr(step, "open")) return "object file not found";
      if (attach_tp) return "tracefs not mounted, or the kernel has no such tracepoint";
      return "the kernel's BTF has no such tracepoint or type";
    case ESRCH:
      return "a type or tracepoint is missing from the kernel BTF";
    case EINVAL:
    case ENOTSUP:
    case 524: /* ENOTSUPP, kernel-internal */
      return "kernel too old (ring buffer needs 5.8, tp_btf needs 5.5) or built without BTF";
    case ENOMEM:
      return "ring buffer too large, or RLIMIT_MEMLOCK too low on kernels before 5.11";
    default:
      return NULL;
  }
}

static int fail(char *msg, size_t len, const char *step, int e) {
  char last[620];
  libbpf_last(last, sizeof last);
  const char *why = cause(step, e);
  snprintf(msg, len, "%s: %s%s%s%s%s%s", step, strerror(e), why ? " (" : "", why ? why : "", why ? ")" : "",
           last[0] ? "; " : "", last);
  return -e;
}

static int path_exists(const char *root, const char *rel) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  return access(p, F_OK) == 0;
}

int pw_probe_btf(void) {
  return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

int pw_probe_tracefs(void) {
  for (size_t i = 0; i < sizeof tracefs_roots / sizeof tracefs_roots[0]; i++) {
    if (path_exists(tracefs_roots[i], "events/syscalls/sys_exit_bind")) return 1;
  }
  return 0;
}

static void add_missing(struct pw_ebpf *e, const char *fmt, ...) {
  if (e->nmissing >= PW_MAX_MISSING) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->missing[e->nmissing++], sizeof e->missing[0], fmt, ap);
  va_end(ap);
}

static int on_sample(void *ctx, void *data, size_t size) {
  struct pw_ebpf *e = ctx;
  struct pw_out *o = &e->out;
  if (o->len + size > o->cap) {
    size_t cap = o->cap ? o->cap : 64 * 1024;
    while (cap < o->len + size) cap *= 2;
    uint8_t *p = realloc(o->data, cap);
    if (!p) {
      o->oom = 1;
      return -ENOMEM; /* stops consuming; the rest stays in the ring for the next wakeup */
    }
    o->data = p;
    o->cap = cap;
  }
  memcpy(o->data + o->len, data, size);
  o->len += size;
  return 0;
}

static struct bpf_program *prog(struct bpf_object *obj, const char *name) {
  return bpf_object__find_program_by_name(obj, name);
}

/* "tracepoint/syscalls/sys_exit_bind" -> "attach tracepoint syscalls/sys_exit_bind" */
static void attach_step(struct bpf_program *p, char *buf, size_t len) {
  const char *sec = bpf_program__section_name(p);
  const char *slash = strchr(sec, '/');
  if (slash) snprintf(buf, len, "attach %.*s %s", (int)(slash - sec), sec, slash + 1);
  else snprintf(buf, len, "attach %s", sec);
}

static int attach_one(struct pw_ebpf *e, const char *name, char *msg, size_t len) {
  struct bpf_program *p = prog(e->obj, name);
  libbpf_clear();
  struct bpf_link *l = bpf_program__attach(p);
  if (!l) {
    int err = errno ? errno : EINVAL;
    char step[128];
    attach_step(p, step, sizeof step);
    return fail(msg, len, step, err);
  }
  e->links[e->nlinks] = l;
  e->names[e->nlinks++] = name;
  return 0;
}

/* The whole pw_config entry (records.h), with this wakeup threshold and the connection settings. */
static int write_config(struct pw_ebpf *e, uint32_t wakeup_bytes) {
  uint32_t zero = 0;
  struct pw_config cfg = {.wakeup_bytes = wakeup_bytes, .conn_flags = e->conn_flags, .conn_window_ns = e->conn_window_ns};
  return bpf_map_update_elem(e->config_fd, &zero, &cfg, 0);
}

static int try_mode(struct pw_ebpf *e, const char *object, int btf, char *msg, size_t len) {
  const char *const *core = btf ? core_btf : core_tp;
  const char *const *other = btf ? core_tp : core_btf;
  int binds = pw_probe_tracefs();

  libbpf_clear();
  e->obj = bpf_object__open_file(object, NULL);
  if (!e->obj) {
    int err = errno ? errno : EINVAL;
    e->obj = NULL;
    return fail(msg, len, "bpf_object__open_file", err);
  }
  struct bpf_map *ring = bpf_object__find_map_by_name(e->obj, "pw_ring");
  struct bpf_map *drops = bpf_object__find_map_by_name(e->obj, "pw_drops");
  if (!ring || !drops) return fail(msg, len, "bpf_object__find_map_by_name(pw_ring, pw_drops)", ENOENT);
  int err = bpf_map__set_max_entries(ring, e->ring_bytes);
  if (err) return fail(msg, len, "bpf_map__set_max_entries(pw_ring)", -err);
  for (int i = 0; i < NCORE; i++) {
    if (!prog(e->obj, core[i]) || !prog(e->obj, other[i])) return fail(msg, len, "bpf_object__find_program_by_name", ENOENT);
    bpf_program__set_autoload(prog(e->obj, core[i]), true);
    bpf_program__set_autoload(prog(e->obj, other[i]), false);
  }
  for (int i = 0; i < 2; i++) {
    if (!prog(e->obj, bind_progs[i])) return fail(msg, len, "bpf_object__find_program_by_name", ENOENT);
    bpf_program__set_autoload(prog(e->obj, bind_progs[i]), binds);
  }
  /* The dedupe map costs ~1.8 MB of kernel memory at 16,384 keys: one key when nothing uses it. */
  struct bpf_map *seen = bpf_object__find_map_by_name(e->obj, "pw_conn_seen");
  if (!seen) return fail(msg, len, "bpf_object__find_map_by_name(pw_conn_seen)", ENOENT);
  if (!e->conn_on && (err = bpf_map__set_max_entries(seen, 1)) != 0) return fail(msg, len, "bpf_map__set_max_entries(pw_conn_seen)", -err);
  /* The common LRU lets each possible CPU hold up to 128 free nodes on its own list and evicts rather
   * than borrow them: with many CPUs a fixed 16,384 keys would be partly idle and dedupe would
   * weaken. 256 keys per possible CPU keeps at least half of the map usable everywhere. */
  int ncpu = libbpf_num_possible_cpus();
  if (e->conn_on && ncpu > 64 && (err = bpf_map__set_max_entries(seen, (__u32)ncpu * 256)) != 0)
    return fail(msg, len, "bpf_map__set_max_entries(pw_conn_seen)", -err);
  const char *conn = conn_progs[btf ? 0 : 1];
  for (int i = 0; i < 2; i++) {
    if (!prog(e->obj, conn_progs[i])) return fail(msg, len, "bpf_object__find_program_by_name", ENOENT);
    bpf_program__set_autoload(prog(e->obj, conn_progs[i]), e->conn_on && conn_progs[i] == conn);
  }

  err = bpf_object__load(e->obj);
  if (err) return fail(msg, len, "bpf_object__load", -err);
  struct bpf_map *config = bpf_object__find_map_by_name(e->obj, "pw_config");
  if (!config) return fail(msg, len, "bpf_object__find_map_by_name(pw_config)", ENOENT);
  e->config_fd = bpf_map__fd(config);
  if (write_config(e, e->wakeup_bytes) != 0) return fail(msg, len, "bpf_map_update_elem(pw_config)", errno);
  struct bpf_map *cstats = bpf_object__find_map_by_name(e->obj, "pw_conn_stats");
  if (!cstats) return fail(msg, len, "bpf_object__find_map_by_name(pw_conn_stats)", ENOENT);
  for (int i = 0; i < NCORE; i++) {
    err = attach_one(e, core[i], msg, len);
    if (err) return err;
  }
  e->attach = btf ? "tp_btf" : "tracepoint";

  if (!binds) {
    add_missing(e, "UDP binds are not seen: the tracepoint syscalls/sys_exit_bind was not found "
                   "(tracefs not mounted, or a kernel without syscall tracepoints)");
  } else {
    char why[512];
    int before = e->nlinks;
    for (int i = 0; i < 2; i++) {
      if (attach_one(e, bind_progs[i], why, sizeof why) == 0) continue;
      while (e->nlinks > before) bpf_link__destroy(e->links[--e->nlinks]);
      add_missing(e, "UDP binds are not seen: %s", why);
      break;
    }
  }
  if (e->conn_on) {
    char why[512];
    if (attach_one(e, conn, why, sizeof why) == 0) {
      e->conn_attached = 1;
      e->conn_stats_fd = bpf_map__fd(cstats);
    } else {
      add_missing(e, "outbound connections are not seen: %s", why);
    }
  }
  if (!btf) add_missing(e, "forks with CLONE_PARENT are not seen (the classic fork tracepoint gives only the child's pid)");

  libbpf_clear();
  e->rb = ring_buffer__new(bpf_map__fd(ring), on_sample, e, NULL);
  if (!e->rb) return fail(msg, len, "ring_buffer__new", errno ? errno : ENOMEM);
  e->drops_fd = bpf_map__fd(drops);
  return 0;
}

static void release(struct pw_ebpf *e) {
  while (e->nlinks > 0) bpf_link__destroy(e->links[--e->nlinks]);
  if (e->rb) ring_buffer__free(e->rb);
  e->rb = NULL;
  if (e->obj) bpf_object__close(e->obj);
  e->obj = NULL;
  e->drops_fd = -1;
  e->config_fd = -1;
  e->conn_stats_fd = -1;
  e->conn_attached = 0;
  e->nmissing = 0;
}

int pw_ebpf_open(struct pw_ebpf *e, const char *object, uint32_t ring_bytes, uint32_t wakeup_bytes,
                 int prefer_tracepoint, const struct pw_conn_opts *conn, char *msg, size_t msglen) {
  memset(e, 0, sizeof *e);
  e->drops_fd = -1;
  e->config_fd = -1;
  e->conn_stats_fd = -1;
  e->conn_on = conn != NULL;
  e->conn_flags = conn ? conn->flags : 0;
  e->conn_window_ns = conn ? conn->window_ns : 0;
  e->ring_bytes = ring_bytes;
  e->wakeup_bytes = wakeup_bytes;
  e->ncpus = libbpf_num_possible_cpus();
  if (e->ncpus <= 0) return fail(msg, msglen, "libbpf_num_possible_cpus", e->ncpus < 0 ? -e->ncpus : EINVAL);
  e->percpu = calloc((size_t)e->ncpus, sizeof(uint64_t));
  if (!e->percpu) return fail(msg, msglen, "calloc", ENOMEM);
  libbpf_set_print(quiet_print);

  char first[512] = "";
  if (!prefer_tracepoint) {
    int err = try_mode(e, object, 1, first, sizeof first);
    if (err == 0) return 0;
    release(e);
    /* Nothing a second attempt can fix: no permission, no object file. */
    if (err == -EPERM || strncmp(first, "bpf_object__open_file", 21) == 0) {
      snprintf(msg, msglen, "%s", first);
      pw_ebpf_close(e);
      return err;
    }
  }
  int err = try_mode(e, object, 0, msg, msglen);
  if (err == 0) return 0;
  if (first[0] != '\0') {
    size_t used = strlen(msg);
    snprintf(msg + used, msglen - used, " (after tp_btf failed: %s)", first);
  }
  release(e);
  pw_ebpf_close(e);
  return err;
}

void pw_ebpf_close(struct pw_ebpf *e) {
  if (e->drops_fd >= 0) pw_ebpf_lost(e);
  release(e);
  free(e->percpu);
  e->percpu = NULL;
  free(e->out.data);
  e->out.data = NULL;
  e->out.len = e->out.cap = 0;
}

int pw_ebpf_set_wakeup(struct pw_ebpf *e, uint32_t wakeup_bytes) {
  if (e->config_fd < 0) return -EBADF;
  if (write_config(e, wakeup_bytes) != 0) return -errno;
  e->wakeup_bytes = wakeup_bytes;
  return 0;
}

int pw_ebpf_epoll_fd(const struct pw_ebpf *e) {
  return e->rb ? ring_buffer__epoll_fd(e->rb) : -1;
}

uint64_t pw_ebpf_lost(struct pw_ebpf *e) {
  uint32_t zero = 0;
  if (e->drops_fd < 0 || !e->percpu || bpf_map_lookup_elem(e->drops_fd, &zero, e->percpu) != 0) return e->drops_total;
  uint64_t sum = 0;
  for (int i = 0; i < e->ncpus; i++) sum += e->percpu[i];
  if (sum > e->drops_total) e->drops_total = sum;
  return e->drops_total;
}

int pw_ebpf_conn_stats(struct pw_ebpf *e, uint64_t out[3]) {
  for (uint32_t k = 0; k < PW_CONN_NSTATS; k++) {
    out[k] = 0;
    if (e->conn_stats_fd < 0 || !e->percpu) continue;
    if (bpf_map_lookup_elem(e->conn_stats_fd, &k, e->percpu) != 0) return -errno;
    for (int i = 0; i < e->ncpus; i++) out[k] += e->percpu[i];
  }
  return 0;
}

static void put_lost(struct pw_ebpf *e, uint64_t count) {
  struct {
    struct pw_header h;
    struct pw_lost l;
  } r;
  struct timespec ts;
  memset(&r, 0, sizeof r);
  clock_gettime(CLOCK_BOOTTIME, &ts);
  r.h.magic = PW_MAGIC;
  r.h.type = PW_LOST;
  r.h.size = sizeof r;
  r.h.uid = r.h.euid = r.h.gid = 0xffffffffu;
  r.h.ts_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  r.l.count = count;
  on_sample(e, &r, sizeof r);
}

int pw_ebpf_drain(struct pw_ebpf *e) {
  e->out.len = 0;
  e->out.oom = 0;
  if (!e->rb) return -EBADF;
  uint64_t total = pw_ebpf_lost(e);
  if (total > e->drops_told) {
    put_lost(e, total - e->drops_told);
    if (e->out.len > 0) e->drops_told = total;
  }
  int n = ring_buffer__consume(e->rb);
  if (n < 0 && !e->out.oom) return n;
  return e->out.oom && e->out.len == 0 ? -ENOMEM : 0;
}
