/*
 * The socket destroy producer (what `ss -E` uses): NETLINK_SOCK_DIAG bound to the multicast groups
 * SKNLGRP_INET{,6}_UDP_DESTROY (and SKNLGRP_INET{,6}_TCP_DESTROY with tcp). The kernel sends one
 * SOCK_DIAG_BY_FAMILY message (struct inet_diag_msg + attributes) per socket it frees; each one
 * with a local port and no remote port becomes a PW_DESTROY record with a pw_sock payload
 * (records.h). Connected sockets are left out: pw_sock has no remote end, and the accepted socket
 * of a connection has the listener's local port, so its destruction would read as the listener's.
 * Measured on 6.18: every notification has idiag_state 7 (TCP_CLOSE), closed TCP listeners and
 * bound-but-unconnected UDP sockets included.
 *
 * A netlink socket reports the network namespace it was created in: with a namespace path the
 * socket is created inside it (setns on the calling thread, then straight back, as
 * native/sock_diag.c does). Listening needs no privilege on 6.18 (measured: uid 65534 without
 * capabilities gets every socket of its namespace); entering another namespace needs CAP_SYS_ADMIN.
 *
 * The notification is built when the socket is freed, after its file is gone: idiag_inode and
 * idiag_uid are not filled in by the kernel then (0, also for a socket of uid 65534). uid is
 * therefore reported as unknown (0xffffffff) when the message says 0; tgid is 0 (no process is
 * known at that point).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include "netlink_common.h"
#include "../common/netns.h"

#define RCVBUF_BYTES (4 * 1024 * 1024)
#define GROUP_BIT(g) (1u << ((g) - 1))

int sd_open(pw_source_t *s, const char *nspath, int tcp, const char **step, const char **hint) {
  *hint = "";
  uint32_t netns = 0;
  int fd = pw_diag_socket_in(nspath, SOCK_NONBLOCK, &netns, step);
  if (fd < 0) {
    if (fd == -EPERM && nspath != NULL) *hint = "entering a network namespace needs CAP_SYS_ADMIN";
    else if (fd == -ENOENT && nspath != NULL) *hint = "no such namespace file";
    return fd;
  }
  int size = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  /* The group a message came through, a fallback for a kernel without INET_DIAG_PROTOCOL. */
  int on = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_PKTINFO, &on, sizeof on);
  struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
  addr.nl_groups = GROUP_BIT(SKNLGRP_INET_UDP_DESTROY) | GROUP_BIT(SKNLGRP_INET6_UDP_DESTROY);
  if (tcp) addr.nl_groups |= GROUP_BIT(SKNLGRP_INET_TCP_DESTROY) | GROUP_BIT(SKNLGRP_INET6_TCP_DESTROY);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    close(fd);
    *step = "bind(destroy groups)";
    if (e == EPERM) *hint = "this kernel keeps the destroy groups to CAP_NET_ADMIN";
    return -e;
  }
  s->fd = fd;
  s->netns = netns;
  return fd;
}

static uint8_t group_protocol(uint32_t group) {
  switch (group) {
    case SKNLGRP_INET_TCP_DESTROY: case SKNLGRP_INET6_TCP_DESTROY: return IPPROTO_TCP;
    case SKNLGRP_INET_UDP_DESTROY: case SKNLGRP_INET6_UDP_DESTROY: return IPPROTO_UDP;
    default: return 0;
  }
}

static int emit_destroy(pw_source_t *s, pw_buf_t *out, const struct nlmsghdr *nh, uint32_t group) {
  if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return 0;
  const struct inet_diag_msg *m = NLMSG_DATA(nh);
  if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6) return 0;
  uint16_t port = ntohs(m->id.idiag_sport);
  if (port == 0 || m->id.idiag_dport != 0) return 0; /* never bound, or a connected socket */
  uint8_t protocol = 0;
  int alen = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof *m));
  for (const struct rtattr *a = (const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof *m)); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    if (a->rta_type == INET_DIAG_PROTOCOL && RTA_PAYLOAD(a) >= 1) protocol = *(const uint8_t *)RTA_DATA(a);
  }
  if (protocol == 0) protocol = group_protocol(group);
  struct pw_header *h = pw_buf_record(out, PW_DESTROY, sizeof(struct pw_sock));
  if (h == NULL) return ENOMEM;
  h->netns = s->netns;
  if (m->idiag_uid != 0) h->uid = m->idiag_uid;
  struct pw_sock *k = (struct pw_sock *)(h + 1);
  k->protocol = protocol;
  k->family = m->idiag_family;
  k->port = port;
  k->ifindex = m->id.idiag_if;
  k->inode = m->idiag_inode;
  k->cookie = (uint64_t)m->id.idiag_cookie[0] | ((uint64_t)m->id.idiag_cookie[1] << 32);
  memcpy(k->addr, m->id.idiag_src, m->idiag_family == AF_INET6 ? 16 : 4);
  return 0;
}

int sd_drain(pw_source_t *s, pw_buf_t *out) {
  for (int i = 0; i < PW_DRAIN_MAX; i++) {
    struct sockaddr_nl from;
    char control[CMSG_SPACE(sizeof(struct nl_pktinfo))];
    struct iovec iov = { .iov_base = s->rx, .iov_len = PW_RX_SIZE };
    struct msghdr msg = {
      .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
      .msg_control = control, .msg_controllen = sizeof control,
    };
    ssize_t n = recvmsg(s->fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == ENOBUFS) { /* the kernel dropped notifications; it does not say how many */
        s->lost++;
        if (pw_buf_lost(out, 1) != 0) return ENOMEM;
        continue;
      }
      return errno;
    }
    if (from.nl_pid != 0) continue; /* only the kernel sends notifications */
    uint32_t group = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct nl_pktinfo)))
        memcpy(&group, CMSG_DATA(c), sizeof group);
    }
    int len = (int)n;
    for (struct nlmsghdr *nh = (struct nlmsghdr *)s->rx; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
      if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      int err = emit_destroy(s, out, nh, group);
      if (err != 0) return err;
    }
  }
  return 0;
}
