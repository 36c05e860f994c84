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
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

#define ROW_SIZE 32
#define RECV_SIZE (64 * 1024)
#define TCPF_LISTEN (1u << 10)
#define TCPF_CLOSE (1u << 7)

typedef struct { uint8_t *data; size_t len, cap; } rows_t;

static void put_u32le(uint8_t *p, uint32_t v) {
  p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = (v >> 24) & 0xff;
}

static int rows_push(rows_t *rows, const struct inet_diag_msg *m, uint8_t proto) {
  if (rows->len + ROW_SIZE > rows->cap) {
    size_t cap = rows->cap == 0 ? 64 * ROW_SIZE : rows->cap * 2;
    uint8_t *d = realloc(rows->data, cap);
    if (d == NULL) return ENOMEM;
    rows->data = d;
    rows->cap = cap;
  }
  uint8_t *p = rows->data + rows->len;
  memset(p, 0, ROW_SIZE);
  p[0] = m->idiag_family == AF_INET6 ? 6 : 4;
  p[1] = proto;
  memcpy(p + 2, &m->id.idiag_sport, 2); /* already network order */
  put_u32le(p + 4, m->idiag_inode);
  put_u32le(p + 8, m->idiag_uid);
  put_u32le(p + 12, m->id.idiag_if);
  memcpy(p + 16, m->id.idiag_src, m->idiag_family == AF_INET6 ? 16 : 4);
  rows->len += ROW_SIZE;
  return 0;
}

/* One request/response exchange; returns 0 or an errno value. */
static int dump_one(int fd, uint8_t family, uint8_t proto, uint32_t states, uint32_t seq, rows_t *rows, uint8_t *buf) {
  struct { struct nlmsghdr nlh; struct inet_diag_req_v2 r; } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nlh.nlmsg_seq = seq;
  req.r.sdiag_family = family;
  req.r.sdiag_protocol = proto;
  req.r.idiag_states = states;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  ssize_t sent;
  do sent = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;
  if ((size_t)sent != sizeof req) return EIO;

  for (;;) {
    struct sockaddr_nl from;
    struct iovec iov = { .iov_base = buf, .iov_len = RECV_SIZE };
    struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EPROTO;
    if (msg.msg_flags & MSG_TRUNC) return EMSGSIZE;
    if (from.nl_pid != 0) continue; /* only the kernel answers dumps */
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        int err = 0;
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof err)) memcpy(&err, NLMSG_DATA(h), sizeof err);
        return err < 0 ? -err : 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return EPROTO;
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error == 0) continue; /* an ACK, not a failure */
        return -e->error;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return EPROTO;
      int err = rows_push(rows, NLMSG_DATA(h), proto);
      if (err != 0) return err;
    }
  }
}

static const char *errno_name(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(e);
  if (n != NULL) return n;
#endif
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case EPROTO: return "EPROTO";
    case EMSGSIZE: return "EMSGSIZE";
    default: return "EUNKNOWN";
  }
}

/* Throws Error(message) with `code` (errno name) and `syscall` (the failed step, e.g. "setns(netns)"). */
static napi_value throw_errno(napi_env env, int e, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_value code, text, step, err;
  if (napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code) != napi_ok
    || napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok
    || napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &step) != napi_ok
    || napi_create_error(env, code, text, &err) != napi_ok
    || napi_set_named_property(env, err, "syscall", step) != napi_ok) {
    napi_throw_error(env, errno_name(e), msg);
    return NULL;
  }
  napi_throw(env, err);
  return NULL;
}

static int open_self_netns(void) {
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 || errno != ENOENT) return fd;
  char path[64]; /* kernels before 3.17 have no /proc/thread-self */
  snprintf(path, sizeof path, "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
  return open(path, O_RDONLY | O_CLOEXEC);
}

/* Opens the diag socket inside nspath (or here); on failure sets *what and returns -errno. */
static int open_diag_socket(const char *nspath, const char **what) {
  if (nspath == NULL) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    *what = "socket(NETLINK_SOCK_DIAG)";
    return fd >= 0 ? fd : -errno;
  }
  int self = open_self_netns();
  if (self < 0) { *what = "open(own netns)"; return -errno; }
  int target = open(nspath, O_RDONLY | O_CLOEXEC);
  if (target < 0) { int e = errno; close(self); *what = "open(netns)"; return -e; }
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(target); close(self);
    *what = "setns(netns)";
    return -e;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  int e = errno;
  /* Staying in the other namespace would silently move every later socket of this thread there. */
  if (setns(self, CLONE_NEWNET) != 0) napi_fatal_error("sock_diag", NAPI_AUTO_LENGTH, "cannot return to the own network namespace", NAPI_AUTO_LENGTH);
  close(target); close(self);
  *what = "socket(NETLINK_SOCK_DIAG) in netns";
  return fd >= 0 ? fd : -e;
}

/* Interface names of the socket's own namespace (SIOCGIFNAME resolves in the socket's netns). */
static napi_status add_ifnames(napi_env env, int fd, const rows_t *rows, napi_value out) {
  for (size_t off = 0; off < rows->len; off += ROW_SIZE) {
    const uint8_t *p = rows->data + off + 12;
    uint32_t idx = p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
    if (idx == 0 || idx > INT_MAX) continue;
    char key[16];
    snprintf(key, sizeof key, "%u", idx);
    bool has = false;
    napi_status st = napi_has_named_property(env, out, key, &has);
    if (st != napi_ok) return st;
    if (has) continue;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_ifindex = (int)idx;
    if (ioctl(fd, SIOCGIFNAME, &ifr) != 0) continue; /* gone since the dump: the caller shows the index */
    napi_value name;
    st = napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name);
    if (st == napi_ok) st = napi_set_named_property(env, out, key, name);
    if (st != napi_ok) return st;
  }
  return napi_ok;
}

/* Whether v is a Uint8Array (Buffer included), and its bytes (data may be NULL when it is empty). */
static napi_status uint8_bytes(napi_env env, napi_value v, bool *is, const uint8_t **data, size_t *len) {
  *is = false;
  *data = NULL;
  *len = 0;
  bool typed = false;
  napi_status st = napi_is_typedarray(env, v, &typed);
  if (st != napi_ok || !typed) return st;
  napi_typedarray_type type;
  void *p = NULL;
  st = napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL);
  if (st != napi_ok || type != napi_uint8_array) { *len = 0; return st; }
  *is = true;
  *data = p;
  return napi_ok;
}

static napi_value dump(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  bool has_prev = false;
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  if (argc >= 2 && uint8_bytes(env, argv[1], &has_prev, &prev, &prev_len) != napi_ok) return NULL;
  char path[PATH_MAX];
  const char *nspath = NULL;
  if (argc >= 1) {
    napi_valuetype t;
    if (napi_typeof(env, argv[0], &t) != napi_ok) return NULL;
    if (t == napi_string) {
      size_t n = 0;
      if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) return NULL;
      if (n == 0 || n >= sizeof path - 1) { napi_throw_type_error(env, "EINVAL", "netnsPath: empty or too long"); return NULL; }
      nspath = path;
    } else if (t != napi_undefined && t != napi_null) {
      napi_throw_type_error(env, "EINVAL", "netnsPath must be a string");
      return NULL;
    }
  }
  const char *what = "";
  int fd = open_diag_socket(nspath, &what);
  if (fd < 0) return throw_errno(env, -fd, what);
  /* The dump runs on the JS thread: a kernel that never answers must not hang the agent. */
  struct timeval timeout = { .tv_sec = 5, .tv_usec = 0 };
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "setsockopt(SO_RCVTIMEO)");
  }
  uint8_t *buf = malloc(RECV_SIZE);
  rows_t rows = { 0 };
  int err = buf == NULL ? ENOMEM : 0;
  static const struct { uint8_t family, proto; uint32_t states; const char *what; } reqs[] = {
    { AF_INET, IPPROTO_TCP, TCPF_LISTEN, "dump tcp" }, { AF_INET6, IPPROTO_TCP, TCPF_LISTEN, "dump tcp6" },
    { AF_INET, IPPROTO_UDP, TCPF_CLOSE, "dump udp" }, { AF_INET6, IPPROTO_UDP, TCPF_CLOSE, "dump udp6" },
  };
  what = "malloc";
  for (uint32_t i = 0; err == 0 && i < sizeof reqs / sizeof reqs[0]; i++) {
    what = reqs[i].what;
    err = dump_one(fd, reqs[i].family, reqs[i].proto, reqs[i].states, i + 1, &rows, buf);
  }
  free(buf);
  napi_value result = NULL, buffer, ifnames;
  if (err == 0) {
    void *unused;
    bool same = has_prev && prev_len == rows.len && (rows.len == 0 || memcmp(prev, rows.data, rows.len) == 0);
    bool ok = napi_create_object(env, &result) == napi_ok
      && (same ? (buffer = argv[1], true)
        : napi_create_buffer_copy(env, rows.len, rows.len == 0 ? "" : (const char *)rows.data, &unused, &buffer) == napi_ok)
      && napi_create_object(env, &ifnames) == napi_ok
      && add_ifnames(env, fd, &rows, ifnames) == napi_ok
      && napi_set_named_property(env, result, "rows", buffer) == napi_ok
      && napi_set_named_property(env, result, "ifnames", ifnames) == napi_ok;
    if (!ok) result = NULL; /* a JS exception is pending */
  }
  free(rows.data);
  close(fd);
  if (err != 0) return throw_errno(env, err, what);
  return result;
}

typedef struct { uint32_t *data; size_t len, cap; } u32s_t;

static int u32s_push(u32s_t *v, uint32_t x) {
  if (v->len == v->cap) {
    size_t cap = v->cap == 0 ? 256 : v->cap * 2;
    uint32_t *d = realloc(v->data, cap * sizeof *d);
    if (d == NULL) return ENOMEM;
    v->data = d;
    v->cap = cap;
  }
  v->data[v->len++] = x;
  return 0;
}

static int has_u32(const uint32_t *sorted, size_t n, uint32_t x) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo < n && sorted[lo] == x;
}

/* "socket:[12345]" -> 12345; 0 for anything else. */
static uint32_t socket_inode(const char *link, ssize_t n) {
  if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']') return 0;
  uint64_t v = 0;
  for (ssize_t i = 8; i < n - 1; i++) {
    if (link[i] < '0' || link[i] > '9') return 0;
    v = v * 10 + (uint64_t)(link[i] - '0');
    if (v > UINT32_MAX) return 0;
  }
  return (uint32_t)v;
}

static int get_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  void *raw = NULL;
  bool isArr = false;
  if (napi_is_typedarray(env, v, &isArr) != napi_ok || !isArr) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, &raw, &ab, &offset) != napi_ok || type != napi_uint32_array) return 0;
  *data = raw;
  return 1;
}

/* The arguments every /proc walker takes: (procRoot: string, pids: Uint32Array, ...). */
typedef struct { char root[PATH_MAX - 64]; uint32_t *pids; size_t npids; } walk_args_t;

static int get_walk_args(napi_env env, size_t argc, napi_value *argv, walk_args_t *a) {
  size_t len = 0;
  return argc >= 2
    && napi_get_value_string_utf8(env, argv[0], a->root, sizeof a->root, &len) == napi_ok
    && len > 0 && len < sizeof a->root - 1
    && get_u32_array(env, argv[1], &a->pids, &a->npids);
}

static napi_value holders(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  walk_args_t a;
  uint32_t *wanted = NULL;
  size_t nwanted = 0;
  if (argc < 3 || !get_walk_args(env, argc, argv, &a) || !get_u32_array(env, argv[2], &wanted, &nwanted)) {
    napi_throw_type_error(env, "EINVAL", "holders(procRoot: string, pids: Uint32Array, wanted: sorted Uint32Array)");
    return NULL;
  }
  u32s_t pairs = { 0 }, denied = { 0 };
  uint32_t read = 0;
  int err = 0;
  /* Paths are resolved from the /proc root's fd and directories listed with getdents64 into one
   * buffer (no DIR per process): about 13 % less CPU than open + readdir on 1,000 processes. */
  enum { DENTS = 32 * 1024 };
  int root = open(a.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return throw_errno(env, errno, "holders");
  char *dents = malloc(DENTS);
  if (dents == NULL) {
    close(root);
    return throw_errno(env, ENOMEM, "holders");
  }
  char path[32], link[64];
  for (size_t i = 0; err == 0 && i < a.npids; i++) {
    snprintf(path, sizeof path, "%u/fd", a.pids[i]);
    int dfd = openat(root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      if (errno == EACCES || errno == EPERM) err = u32s_push(&denied, a.pids[i]);
      continue;
    }
    read++;
    long got;
    while (err == 0 && (got = syscall(SYS_getdents64, dfd, dents, DENTS)) > 0) {
      for (long off = 0; err == 0 && off < got;) {
        const struct dirent64 *e = (const struct dirent64 *)(dents + off);
        off += e->d_reclen;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        ssize_t len = readlinkat(dfd, e->d_name, link, sizeof link - 1);
        if (len <= 0) continue; /* closed meanwhile */
        uint32_t ino = socket_inode(link, len);
        if (ino != 0 && has_u32(wanted, nwanted, ino)) {
          err = u32s_push(&pairs, a.pids[i]);
          if (err == 0) err = u32s_push(&pairs, ino);
        }
      }
    }
    close(dfd);
  }
  free(dents);
  close(root);
  napi_value result = NULL;
  if (err == 0) {
    napi_value pairsArr, deniedArr, readNum, ab1, ab2;
    void *p1 = NULL, *p2 = NULL;
    bool ok = napi_create_object(env, &result) == napi_ok
      && napi_create_arraybuffer(env, pairs.len * sizeof(uint32_t), &p1, &ab1) == napi_ok
      && napi_create_typedarray(env, napi_uint32_array, pairs.len, ab1, 0, &pairsArr) == napi_ok
      && napi_create_arraybuffer(env, denied.len * sizeof(uint32_t), &p2, &ab2) == napi_ok
      && napi_create_typedarray(env, napi_uint32_array, denied.len, ab2, 0, &deniedArr) == napi_ok
      && napi_create_uint32(env, read, &readNum) == napi_ok;
    if (ok) {
      if (pairs.len > 0) memcpy(p1, pairs.data, pairs.len * sizeof(uint32_t));
      if (denied.len > 0) memcpy(p2, denied.data, denied.len * sizeof(uint32_t));
      ok = napi_set_named_property(env, result, "pairs", pairsArr) == napi_ok
        && napi_set_named_property(env, result, "denied", deniedArr) == napi_ok
        && napi_set_named_property(env, result, "read", readNum) == napi_ok;
    }
    if (!ok) result = NULL;
  }
  free(pairs.data);
  free(denied.data);
  if (err != 0) return throw_errno(env, err, "holders");
  return result;
}

typedef struct { uint8_t *data; size_t len, cap; } bytes_t;

static int bytes_put(bytes_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap == 0 ? 64 * 1024 : b->cap;
    while (cap < b->len + n) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL) return ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

/* The arguments of a (procRoot, pids) walker; false (with a TypeError thrown) when they are not that. */
static int pids_call(napi_env env, napi_callback_info info, const char *usage, walk_args_t *a) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (get_walk_args(env, argc, argv, a)) return 1;
  napi_throw_type_error(env, "EINVAL", usage);
  return 0;
}

static napi_value basics(napi_env env, napi_callback_info info) {
  walk_args_t a;
  if (!pids_call(env, info, "basics(procRoot: string, pids: Uint32Array)", &a)) return NULL;
  bytes_t out = { 0 };
  int err = 0;
  char path[PATH_MAX], ns[128], stat_text[4096];
  for (size_t i = 0; err == 0 && i < a.npids; i++) {
    int n = snprintf(path, sizeof path, "%s/%u", a.root, a.pids[i]);
    if (n < 0 || (size_t)n >= sizeof path - 16) continue;
    size_t base = (size_t)n;
    memcpy(path + base, "/stat", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    /* Every /proc/<pid> entry has the owner of /proc/<pid> (the task's dump owner): fstat of the
     * open file spares a path lookup per process. */
    struct stat st;
    ssize_t got = fstat(fd, &st) == 0 ? read(fd, stat_text, sizeof stat_text) : -1;
    close(fd);
    if (got <= 0) continue;
    memcpy(path + base, "/ns/net", 8);
    ssize_t nsLen = readlink(path, ns, sizeof ns);
    if (nsLen < 0 || nsLen > 255) nsLen = 0;
    uint8_t head[9];
    put_u32le(head, a.pids[i]);
    put_u32le(head + 4, (uint32_t)st.st_uid);
    head[8] = (uint8_t)nsLen;
    uint8_t len2[2] = { (uint8_t)(got & 0xff), (uint8_t)((got >> 8) & 0xff) };
    err = bytes_put(&out, head, sizeof head);
    if (err == 0 && nsLen > 0) err = bytes_put(&out, ns, (size_t)nsLen);
    if (err == 0) err = bytes_put(&out, len2, sizeof len2);
    if (err == 0) err = bytes_put(&out, stat_text, (size_t)got);
  }
  napi_value result = NULL;
  void *unused;
  if (err == 0 && napi_create_buffer_copy(env, out.len, out.len == 0 ? "" : (const char *)out.data, &unused, &result) != napi_ok) result = NULL;
  free(out.data);
  if (err != 0) return throw_errno(env, err, "basics");
  return result;
}

/* Decimal digits in [p, end) -> value; -1 when empty, not all digits or above 2^53. */
static double decimal(const char *p, const char *end) {
  if (p >= end) return -1;
  double v = 0;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
    if (v > 9007199254740992.0) return -1;
  }
  return v;
}

static napi_value starts(napi_env env, napi_callback_info info) {
  walk_args_t a;
  if (!pids_call(env, info, "starts(procRoot: string, pids: Uint32Array)", &a)) return NULL;
  double *out = malloc((a.npids == 0 ? 1 : a.npids) * 4 * sizeof(double));
  if (out == NULL) return throw_errno(env, ENOMEM, "starts");
  size_t n = 0;
  char path[PATH_MAX], ns[128], text[4096];
  for (size_t i = 0; i < a.npids; i++) {
    int len = snprintf(path, sizeof path, "%s/%u/stat", a.root, a.pids[i]);
    if (len < 0 || (size_t)len >= sizeof path - 16) continue;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0) continue;
    text[got] = '\0';
    const char *end = text + got;
    /* The name may hold spaces and ')': fields start after the last ") ". */
    const char *p = strrchr(text, ')');
    if (p == NULL || p + 2 > end || p[1] != ' ') continue;
    p += 2;
    double ppid = -1, start = -1;
    for (int field = 3; field <= 22 && p < end; field++) {
      const char *sp = memchr(p, ' ', (size_t)(end - p));
      const char *stop = sp == NULL ? end : sp;
      if (field == 4) ppid = decimal(p, stop);
      if (field == 22) start = decimal(p, stop[-1] == '\n' ? stop - 1 : stop);
      p = stop + 1;
    }
    if (ppid < 0 || start < 0) continue;
    memcpy(path + len - 4, "ns/net", 7);
    ssize_t l = readlink(path, ns, sizeof ns - 1);
    double netns = 0;
    if (l > 5 && memcmp(ns, "net:[", 5) == 0 && ns[l - 1] == ']') netns = decimal(ns + 5, ns + l - 1);
    out[n * 4] = a.pids[i];
    out[n * 4 + 1] = ppid;
    out[n * 4 + 2] = start;
    out[n * 4 + 3] = netns < 0 ? 0 : netns;
    n++;
  }
  napi_value ab, result = NULL;
  void *data = NULL;
  if (napi_create_arraybuffer(env, n * 4 * sizeof(double), &data, &ab) == napi_ok
    && napi_create_typedarray(env, napi_float64_array, n * 4, ab, 0, &result) == napi_ok) {
    if (n > 0) memcpy(data, out, n * 4 * sizeof(double));
  } else {
    result = NULL;
  }
  free(out);
  return result;
}

static napi_value trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  bool trimmed = false;
#if defined(__GLIBC__)
  malloc_trim(0);
  trimmed = true;
#endif
  napi_value result = NULL;
  if (napi_get_boolean(env, trimmed, &result) != napi_ok) return NULL;
  return result;
}

static napi_value limit_arenas(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, "EINVAL", "limitArenas(n: integer >= 1)");
    return NULL;
  }
  bool limited = false;
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
  limited = mallopt(M_ARENA_MAX, n) == 1;
#endif
  napi_value result = NULL;
  if (napi_get_boolean(env, limited, &result) != napi_ok) return NULL;
  return result;
}

static napi_value sock_proto(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char path[PATH_MAX], proto[64];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1) {
    napi_throw_type_error(env, "EINVAL", "sockProto(path: string)");
    return NULL;
  }
  ssize_t n = getxattr(path, "system.sockprotoname", proto, sizeof proto - 1);
  if (n <= 0) {
    if (napi_get_null(env, &result) != napi_ok) return NULL;
    return result;
  }
  proto[n] = '\0';
  if (napi_create_string_utf8(env, proto, strnlen(proto, (size_t)n), &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "dump", NAPI_AUTO_LENGTH, dump, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "dump", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "holders", NAPI_AUTO_LENGTH, holders, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "holders", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "basics", NAPI_AUTO_LENGTH, basics, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "basics", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "starts", NAPI_AUTO_LENGTH, starts, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "starts", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "trimMemory", NAPI_AUTO_LENGTH, trim_memory, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trimMemory", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "sockProto", NAPI_AUTO_LENGTH, sock_proto, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sockProto", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "limitArenas", NAPI_AUTO_LENGTH, limit_arenas, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "limitArenas", fn) != napi_ok) return NULL;
  return exports;
}
