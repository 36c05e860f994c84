/*
 * The proc connector producer (cn_proc: NETLINK_CONNECTOR, group CN_IDX_PROC): fork, exec and exit
 * of processes as PW_FORK / PW_EXEC / PW_EXIT records (records.h).
 *
 * The kernel event carries pids only. With read_proc the rest of the header (start time, parent,
 * uids, comm, network namespace; for exec the executable and argv) is read from /proc right at
 * receipt, message by message, since short-lived processes are gone within milliseconds; such
 * records have PW_F_FROM_PROC. A process already gone keeps what the event carries. /proc shows
 * the process when the message is handled, not when the event happened: in a quick exec chain
 * (env -> bash) the first exec's record can carry the second one's exe and argv, and a fork's comm
 * can be the child's after its exec. Under load (2 CPUs, load 8) ~70-77 % of 2,000 /bin/true
 * execs still had their argv.
 *
 * Clock: the event's timestamp_ns is ktime_get_ns() (CLOCK_MONOTONIC). ts_ns is that plus the
 * BOOTTIME - MONOTONIC offset read once per drain (the two clocks differ by the time spent
 * suspended, which does not change while the host runs), so ts_ns is when the event happened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/connector.h>
#include <linux/cn_proc.h>
#include "netlink_common.h"

#define RCVBUF_BYTES (4 * 1024 * 1024)

/* Reads up to cap bytes of a (/proc) file; -1 when it cannot be opened or read. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got < cap) {
    ssize_t n = read(fd, buf + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { close(fd); return -1; }
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  return (ssize_t)got;
}

static uint64_t parse_u64(const char **pp, const char *end, int *ok) {
  const char *p = *pp;
  uint64_t v = 0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9') { v = v * 10 + (uint64_t)(*p - '0'); p++; digits++; }
  *pp = p;
  if (digits == 0) *ok = 0;
  return v;
}

static uint64_t ns_per_tick(void) {
  static uint64_t cached;
  if (cached == 0) {
    long hz = sysconf(_SC_CLK_TCK);
    cached = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
  }
  return cached;
}

/* /proc/<pid>/stat: ppid (field 4), process group and session (fields 5 and 6), start (field 22,
 * in ns) and comm (field 2; may hold spaces and ')', so fields are counted from the last ')').
 * comm and group may be NULL. 0 on success. */
static int read_stat(uint32_t pid, uint32_t *ppid, uint64_t *start_ns, char comm[16], uint32_t group[2]) {
  char path[48], text[1024];
  snprintf(path, sizeof path, "/proc/%u/stat", pid);
  ssize_t n = read_small(path, text, sizeof text - 1);
  if (n <= 0) return -1;
  text[n] = '\0';
  const char *open_paren = strchr(text, '(');
  const char *close_paren = strrchr(text, ')');
  if (open_paren == NULL || close_paren == NULL || close_paren < open_paren) return -1;
  const char *end = text + n, *p = close_paren + 1;
  uint64_t fpp = 0, fstart = 0, fpgrp = 0, fsid = 0;
  int ok = 1;
  for (int field = 3; field <= 22; field++) {
    while (p < end && *p == ' ') p++;
    if (p >= end) return -1;
    if (field == 4) fpp = parse_u64(&p, end, &ok);
    else if (field == 5) fpgrp = parse_u64(&p, end, &ok);
    else if (field == 6) fsid = parse_u64(&p, end, &ok);
    else if (field == 22) fstart = parse_u64(&p, end, &ok);
    else while (p < end && *p != ' ') p++;
  }
  if (!ok) return -1;
  *ppid = (uint32_t)fpp;
  *start_ns = fstart * ns_per_tick();
  if (group != NULL) {
    group[0] = fpgrp <= UINT32_MAX ? (uint32_t)fpgrp : 0;
    group[1] = fsid <= UINT32_MAX ? (uint32_t)fsid : 0;
  }
  if (comm != NULL) {
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (len > 15) len = 15;
    memset(comm, 0, 16);
    memcpy(comm, open_paren + 1, len);
  }
  return 0;
}

/* /proc/<pid>/status: real and effective uid, real gid. */
static void read_ids(uint32_t pid, struct pw_header *h) {
  char path[48], text[1536];
  snprintf(path, sizeof path, "/proc/%u/status", pid);
  ssize_t n = read_small(path, text, sizeof text - 1);
  if (n <= 0) return;
  text[n] = '\0';
  const char *end = text + n;
  const char *u = strstr(text, "\nUid:");
  const char *g = strstr(text, "\nGid:");
  int ok = 1;
  if (u != NULL) {
    u += 5;
    while (u < end && (*u == '\t' || *u == ' ')) u++;
    uint64_t ruid = parse_u64(&u, end, &ok);
    while (u < end && (*u == '\t' || *u == ' ')) u++;
    uint64_t euid = parse_u64(&u, end, &ok);
    if (ok) { h->uid = (uint32_t)ruid; h->euid = (uint32_t)euid; }
  }
  ok = 1;
  if (g != NULL) {
    g += 5;
    while (g < end && (*g == '\t' || *g == ' ')) g++;
    uint64_t rgid = parse_u64(&g, end, &ok);
    if (ok) h->gid = (uint32_t)rgid;
  }
}

static uint32_t read_netns(uint32_t pid) {
  char path[48], link[64];
  snprintf(path, sizeof path, "/proc/%u/ns/net", pid);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 7 || memcmp(link, "net:[", 5) != 0 || link[n - 1] != ']') return 0;
  const char *p = link + 5;
  int ok = 1;
  uint64_t v = parse_u64(&p, link + n - 1, &ok);
  return ok && p == link + n - 1 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* The /proc part of every record: stat (start, ppid when the event has none, comm; process group
 * and session into group when not NULL), ids, netns, and the parent's start (also when the process
 * itself is gone). Returns whether it was there. */
static int fill_from_proc(struct pw_header *h, int want_ppid, uint32_t group[2]) {
  uint32_t ppid = 0, unused;
  uint64_t start = 0, pstart = 0;
  int alive = read_stat(h->tgid, &ppid, &start, h->comm, group) == 0;
  if (alive) {
    h->start_ns = start;
    if (want_ppid) h->ppid = ppid;
    read_ids(h->tgid, h);
    h->netns = read_netns(h->tgid);
    h->flags |= PW_F_FROM_PROC;
  }
  if (h->ppid != 0 && read_stat(h->ppid, &unused, &pstart, NULL, NULL) == 0) {
    h->parent_start_ns = pstart;
    h->flags |= PW_F_FROM_PROC;
  }
  return alive;
}

/* PW_EXEC: the executable (/proc/<pid>/exe, " (deleted)" kept) and argv (/proc/<pid>/cmdline). */
static int emit_exec(pw_source_t *s, pw_buf_t *out, uint32_t pid, uint32_t tgid, uint64_t ts) {
  char exe[PW_MAX_FILENAME + 1 > 4096 ? PW_MAX_FILENAME + 1 : 4096]; /* the JS thread's stack: 8 KB */
  char args[PW_MAX_ARGS + 1];
  size_t exe_len = 0, args_len = 0;
  uint16_t flags = 0;
  if (s->read_proc) {
    char path[48];
    /* argv first: it is what a process that exits within a millisecond takes with it. */
    snprintf(path, sizeof path, "/proc/%u/cmdline", tgid);
    ssize_t n = read_small(path, args, sizeof args);
    if (n > 0) {
      args_len = (size_t)n;
      if (args_len > PW_MAX_ARGS) { args_len = PW_MAX_ARGS; flags |= PW_F_ARGS_TRUNCATED; }
      /* At most PW_MAX_ARGC arguments. */
      size_t argc = 0;
      for (size_t i = 0; i < args_len; i++) {
        if (args[i] == '\0' && ++argc == PW_MAX_ARGC && i + 1 < args_len) { args_len = i + 1; flags |= PW_F_ARGS_TRUNCATED; break; }
      }
      /* Every argument NUL-terminated, also a cut one or a rewritten command line without a NUL. */
      if (args[args_len - 1] != '\0') {
        if (args_len < PW_MAX_ARGS) args_len++;
        args[args_len - 1] = '\0';
      }
    }
    snprintf(path, sizeof path, "/proc/%u/exe", tgid);
    n = readlink(path, exe, sizeof exe);
    if (n > 0) {
      exe_len = (size_t)n;
      if (exe_len > PW_MAX_FILENAME) { exe_len = PW_MAX_FILENAME; flags |= PW_F_FILENAME_TRUNCATED; }
    }
  }
  if (args_len == 0) flags |= PW_F_ARGS_MISSING; /* gone (or a zombie), or read_proc off */
  struct pw_header *h = pw_buf_record(out, PW_EXEC, sizeof(struct pw_exec) + exe_len + args_len);
  if (h == NULL) return ENOMEM;
  h->tgid = tgid;
  h->tid = pid;
  h->ts_ns = ts;
  uint32_t group[2] = {0, 0};
  if (s->read_proc) fill_from_proc(h, 1, group);
  h->flags |= flags;
  struct pw_exec *e = (struct pw_exec *)(h + 1);
  e->filename_len = (uint16_t)exe_len;
  e->args_len = (uint16_t)args_len;
  e->pgid = group[0];
  e->sid = group[1];
  uint8_t *p = (uint8_t *)(e + 1);
  if (exe_len > 0) memcpy(p, exe, exe_len);
  if (args_len > 0) memcpy(p + exe_len, args, args_len);
  return 0;
}

static int emit_fork(pw_source_t *s, pw_buf_t *out, const struct proc_event *ev, uint64_t ts) {
  const struct fork_proc_event *f = &ev->event_data.fork;
  if (f->child_pid != f->child_tgid) return 0; /* a thread */
  struct pw_header *h = pw_buf_record(out, PW_FORK, 0);
  if (h == NULL) return ENOMEM;
  h->tgid = (uint32_t)f->child_tgid;
  h->tid = (uint32_t)f->parent_pid;
  h->ppid = (uint32_t)f->parent_tgid;
  h->ts_ns = ts;
  if (s->read_proc) fill_from_proc(h, 0, NULL);
  return 0;
}

static int emit_exit(pw_source_t *s, pw_buf_t *out, const struct proc_event *ev, uint64_t ts) {
  const struct exit_proc_event *x = &ev->event_data.exit;
  if (x->process_pid != x->process_tgid) return 0; /* a thread other than the leader */
  struct pw_header *h = pw_buf_record(out, PW_EXIT, sizeof(struct pw_exit));
  if (h == NULL) return ENOMEM;
  h->tgid = (uint32_t)x->process_tgid;
  h->tid = (uint32_t)x->process_pid;
  h->ppid = (uint32_t)x->parent_tgid;
  h->ts_ns = ts;
  /* Until it is reaped the exiting process is still in /proc (the netns link is gone by then). */
  if (s->read_proc) fill_from_proc(h, h->ppid == 0, NULL);
  struct pw_exit *e = (struct pw_exit *)(h + 1);
  e->exit_code = (int32_t)x->exit_code;
  return 0;
}

static int64_t boot_offset_ns(void) {
  struct timespec b, m;
  clock_gettime(CLOCK_BOOTTIME, &b);
  clock_gettime(CLOCK_MONOTONIC, &m);
  return ((int64_t)b.tv_sec - (int64_t)m.tv_sec) * 1000000000 + ((int64_t)b.tv_nsec - (int64_t)m.tv_nsec);
}

int pc_drain(pw_source_t *s, pw_buf_t *out) {
  int64_t offset = boot_offset_ns();
  for (int i = 0; i < PW_DRAIN_MAX; i++) {
    struct sockaddr_nl from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(s->fd, s->rx, PW_RX_SIZE, 0, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == ENOBUFS) { /* the kernel dropped messages; it does not say how many */
        s->lost++;
        if (pw_buf_lost(out, 1) != 0) return ENOMEM;
        continue;
      }
      return errno;
    }
    if (from.nl_pid != 0) continue; /* only the kernel sends events */
    int len = (int)n;
    for (struct nlmsghdr *nh = (struct nlmsghdr *)s->rx; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
      if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + offsetof(struct proc_event, event_data))) continue;
      const struct cn_msg *c = NLMSG_DATA(nh);
      if (c->id.idx != CN_IDX_PROC || c->id.val != CN_VAL_PROC) continue;
      if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + c->len)) continue;
      const struct proc_event *ev = (const struct proc_event *)c->data;
      uint64_t ts = (uint64_t)((int64_t)ev->timestamp_ns + offset);
      int err = 0;
      switch (ev->what) {
        case PROC_EVENT_FORK:
          if (c->len >= offsetof(struct proc_event, event_data) + sizeof(struct fork_proc_event)) err = emit_fork(s, out, ev, ts);
          break;
        case PROC_EVENT_EXEC:
          if (c->len >= offsetof(struct proc_event, event_data) + sizeof(struct exec_proc_event))
            err = emit_exec(s, out, (uint32_t)ev->event_data.exec.process_pid, (uint32_t)ev->event_data.exec.process_tgid, ts);
          break;
        case PROC_EVENT_EXIT:
          if (c->len >= offsetof(struct proc_event, event_data) + sizeof(struct exit_proc_event)) err = emit_exit(s, out, ev, ts);
          break;
        default:
          break;
      }
      if (err != 0) return err;
    }
  }
  return 0;
}

static int fail(int fd, const char **step, const char *what, const char **hint, const char *why) {
  int e = errno;
  if (fd >= 0) close(fd);
  *step = what;
  *hint = why;
  return -e;
}

/* Sends a PROC_CN_MCAST_* request (the 4-byte form every kernel accepts); 0 or -1 with errno. */
static int send_op(int fd, uint32_t seq, uint32_t ack, uint32_t op) {
  struct __attribute__((packed)) {
    struct nlmsghdr nh;
    struct cn_msg cn;
    uint32_t op;
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = NLMSG_DONE;
  req.cn.id.idx = CN_IDX_PROC;
  req.cn.id.val = CN_VAL_PROC;
  req.cn.seq = seq;
  req.cn.ack = ack;
  req.cn.len = sizeof req.op;
  req.op = op;
  ssize_t sent;
  do sent = send(fd, &req, sizeof req, 0);
  while (sent < 0 && errno == EINTR);
  return sent < 0 ? -1 : 0;
}

/* The kernel counts listeners and only decrements on PROC_CN_MCAST_IGNORE, not when the socket
 * closes: without it every fork/exec/exit on the host keeps paying for a listener that is gone. */
void pc_ignore(pw_source_t *s) {
  if (s->fd >= 0) send_op(s->fd, ++s->nl_seq, 0, PROC_CN_MCAST_IGNORE);
}

int pc_open(pw_source_t *s, const char **step, const char **hint) {
  *hint = "";
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return fail(-1, step, "socket(NETLINK_CONNECTOR)", hint, errno == EPROTONOSUPPORT ? "kernel without CONFIG_CONNECTOR" : "");
  /* A burst of forks must not overflow the queue while the JavaScript thread is busy. Without
   * CAP_NET_ADMIN, SO_RCVBUF is capped at net.core.rmem_max. */
  int size = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    return fail(fd, step, "bind", hint, errno == EPERM ? "needs CAP_NET_ADMIN" : "");
  struct sockaddr_nl self = { 0 };
  socklen_t self_len = sizeof self;
  uint32_t ack = getsockname(fd, (struct sockaddr *)&self, &self_len) == 0 ? self.nl_pid : (uint32_t)getpid();
  if (send_op(fd, ++s->nl_seq, ack, PROC_CN_MCAST_LISTEN) != 0)
    return fail(fd, step, "send(PROC_CN_MCAST_LISTEN)", hint, errno == EPERM ? "needs CAP_NET_ADMIN" : "");
  /* The kernel handles the request inside send() and multicasts an acknowledgement (what ==
   * PROC_EVENT_NONE, ack + 1) with its error, so it is queued by now; events queued before it are
   * dropped (they predate this listener). No acknowledgement: the kernel ignored the request,
   * which it does for callers outside the initial user and PID namespaces. */
  for (int tries = 0; tries < 4096; tries++) {
    ssize_t n = recv(fd, s->rx, PW_RX_SIZE, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == ENOBUFS) continue;
      errno = errno == EAGAIN ? ENOTSUP : errno;
      return fail(fd, step, "listen", hint, errno == ENOTSUP ? "no acknowledgement from the kernel: not in the initial user and PID namespace" : "");
    }
    const struct nlmsghdr *nh = (const struct nlmsghdr *)s->rx;
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event)) || !NLMSG_OK(nh, (int)n)) continue;
    const struct cn_msg *c = NLMSG_DATA(nh);
    const struct proc_event *ev = (const struct proc_event *)c->data;
    if (ev->what != PROC_EVENT_NONE || c->ack != ack + 1) continue;
    if (ev->event_data.ack.err != 0) {
      errno = (int)ev->event_data.ack.err;
      return fail(fd, step, "listen", hint, errno == EPERM ? "needs CAP_NET_ADMIN" : "");
    }
    s->fd = fd;
    return fd;
  }
  errno = EBUSY;
  return fail(fd, step, "listen", hint, "the kernel acknowledgement never came among the queued events");
}
