/*
 * dump(): one NETLINK_SOCK_DIAG dump of listening sockets (TCP in LISTEN, UDP in CLOSE; IPv4 and
 * IPv6), optionally inside another network namespace, as packed rows (layout in addon.c).
 * connections(): the same for established TCP connections, with their byte counters.
 */
#define _GNU_SOURCE
#include "sock_diag.h"
#include "../common/netns.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/tcp.h>
#include <stddef.h>

#define ROW_SIZE 32
#define RECV_SIZE (64 * 1024)
#define TCPF_LISTEN (1u << 10)
#define TCPF_CLOSE (1u << 7)
#define TCPF_ESTABLISHED (1u << 1)
#define CONN_ROW_SIZE 72

typedef struct { uint8_t *data; size_t len, cap; } rows_t;

/* Room for one more row of `size` bytes at rows->data + rows->len; 0 or ENOMEM. */
static int rows_reserve(rows_t *rows, size_t size) {
  if (rows->len + size > rows->cap) {
    size_t cap = rows->cap == 0 ? 64 * size : rows->cap * 2;
    uint8_t *d = realloc(rows->data, cap);
    if (d == NULL) return ENOMEM;
    rows->data = d;
    rows->cap = cap;
  }
  return 0;
}

typedef int (*push_fn)(rows_t *rows, const struct nlmsghdr *h, uint8_t proto);

static int rows_push(rows_t *rows, const struct nlmsghdr *h, uint8_t proto) {
  const struct inet_diag_msg *m = NLMSG_DATA(h);
  if (rows_reserve(rows, ROW_SIZE) != 0) return ENOMEM;
  uint8_t *p = rows->data + rows->len;
  memset(p, 0, ROW_SIZE);
  p[0] = m->idiag_family == AF_INET6 ? 6 : 4;
  p[1] = proto;
  memcpy(p + 2, &m->id.idiag_sport, 2); /* already network order */
  sd_put_u32le(p + 4, m->idiag_inode);
  sd_put_u32le(p + 8, m->idiag_uid);
  sd_put_u32le(p + 12, m->id.idiag_if);
  memcpy(p + 16, m->id.idiag_src, m->idiag_family == AF_INET6 ? 16 : 4);
  rows->len += ROW_SIZE;
  return 0;
}

/* One request/response exchange; returns 0 or an errno value. */
static int dump_one(int fd, uint8_t family, uint8_t proto, uint32_t states, uint8_t ext, uint32_t seq, push_fn push, rows_t *rows, uint8_t *buf) {
  struct { struct nlmsghdr nlh; struct inet_diag_req_v2 r; } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nlh.nlmsg_seq = seq;
  req.r.sdiag_family = family;
  req.r.sdiag_protocol = proto;
  req.r.idiag_states = states;
  req.r.idiag_ext = ext;
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
      int err = push(rows, h, proto);
      if (err != 0) return err;
    }
  }
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

/*
 * The sock_diag socket for a call whose first argument is the optional netnsPath; -1 with a JS
 * exception pending on failure. The dump runs on the JS thread: a kernel that never answers must
 * not hang the agent (5 s receive timeout).
 */
static int open_diag(napi_env env, size_t argc, napi_value *argv) {
  char path[PATH_MAX];
  const char *nspath = NULL;
  if (argc >= 1) {
    napi_valuetype t;
    if (napi_typeof(env, argv[0], &t) != napi_ok) return -1;
    if (t == napi_string) {
      size_t n = 0;
      if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) return -1;
      if (n == 0 || n >= sizeof path - 1) { napi_throw_type_error(env, "EINVAL", "netnsPath: empty or too long"); return -1; }
      nspath = path;
    } else if (t != napi_undefined && t != napi_null) {
      napi_throw_type_error(env, "EINVAL", "netnsPath must be a string");
      return -1;
    }
  }
  const char *what = "";
  int fd = pw_diag_socket_in(nspath, 0, NULL, &what);
  if (fd < 0) { sd_throw_errno(env, -fd, what); return -1; }
  struct timeval timeout = { .tv_sec = 5, .tv_usec = 0 };
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    int e = errno;
    close(fd);
    sd_throw_errno(env, e, "setsockopt(SO_RCVTIMEO)");
    return -1;
  }
  return fd;
}

napi_value sd_dump(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  bool has_prev = false;
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  if (argc >= 2 && sd_uint8_bytes(env, argv[1], &has_prev, &prev, &prev_len) != napi_ok) return NULL;
  const char *what = "";
  int fd = open_diag(env, argc, argv);
  if (fd < 0) return NULL;
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
    err = dump_one(fd, reqs[i].family, reqs[i].proto, reqs[i].states, 0, i + 1, rows_push, &rows, buf);
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
  if (err != 0) return sd_throw_errno(env, err, what);
  return result;
}

/* One established TCP socket with what its process has read and written (layout in addon.c). */
static int conn_push(rows_t *rows, const struct nlmsghdr *h, uint8_t proto) {
  (void)proto;
  const struct inet_diag_msg *m = NLMSG_DATA(h);
  if (rows_reserve(rows, CONN_ROW_SIZE) != 0) return ENOMEM;
  uint8_t *p = rows->data + rows->len;
  memset(p, 0, CONN_ROW_SIZE);
  size_t alen = m->idiag_family == AF_INET6 ? 16 : 4;
  p[0] = m->idiag_family == AF_INET6 ? 6 : 4;
  memcpy(p + 2, &m->id.idiag_sport, 2);
  memcpy(p + 4, &m->id.idiag_dport, 2);
  sd_put_u32le(p + 8, m->idiag_inode);
  sd_put_u32le(p + 12, m->idiag_uid);
  memcpy(p + 16, m->id.idiag_src, alen);
  memcpy(p + 32, m->id.idiag_dst, alen);
  sd_put_u32le(p + 48, m->idiag_rqueue);
  sd_put_u32le(p + 52, m->idiag_wqueue);
  int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *m);
  for (struct rtattr *a = (struct rtattr *)((const uint8_t *)m + NLMSG_ALIGN(sizeof *m)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    /* Kernels before 4.1 send a shorter tcp_info without the byte counters: flag 0, counters 0. */
    if (a->rta_type != INET_DIAG_INFO || RTA_PAYLOAD(a) < offsetof(struct tcp_info, tcpi_bytes_received) + 8) continue;
    struct tcp_info ti;
    memcpy(&ti, RTA_DATA(a), sizeof ti <= RTA_PAYLOAD(a) ? sizeof ti : RTA_PAYLOAD(a));
    p[1] = 1;
    sd_put_u32le(p + 56, (uint32_t)ti.tcpi_bytes_acked);
    sd_put_u32le(p + 60, (uint32_t)(ti.tcpi_bytes_acked >> 32));
    sd_put_u32le(p + 64, (uint32_t)ti.tcpi_bytes_received);
    sd_put_u32le(p + 68, (uint32_t)(ti.tcpi_bytes_received >> 32));
  }
  rows->len += CONN_ROW_SIZE;
  return 0;
}

napi_value sd_connections(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  int fd = open_diag(env, argc, argv);
  if (fd < 0) return NULL;
  uint8_t *buf = malloc(RECV_SIZE);
  rows_t rows = { 0 };
  int err = buf == NULL ? ENOMEM : 0;
  const char *what = "malloc";
  static const struct { uint8_t family; const char *what; } reqs[] = { { AF_INET, "dump tcp established" }, { AF_INET6, "dump tcp6 established" } };
  for (uint32_t i = 0; err == 0 && i < 2; i++) {
    what = reqs[i].what;
    err = dump_one(fd, reqs[i].family, IPPROTO_TCP, TCPF_ESTABLISHED, 1u << (INET_DIAG_INFO - 1), i + 1, conn_push, &rows, buf);
  }
  free(buf);
  close(fd);
  napi_value result = NULL;
  void *unused;
  if (err == 0 && napi_create_buffer_copy(env, rows.len, rows.len == 0 ? "" : (const char *)rows.data, &unused, &result) != napi_ok) result = NULL;
  free(rows.data);
  if (err != 0) return sd_throw_errno(env, err, what);
  return result;
}
