/*
 * A NETLINK_SOCK_DIAG socket inside another network namespace: a netlink socket reports the
 * namespace it was created in, so the calling thread enters the namespace (setns), creates the
 * socket and goes straight back. Shared by sock_diag.node (listener dumps) and netlink_events.node
 * (socket destroy events).
 */
#ifndef PORTWARDEN_NETNS_H
#define PORTWARDEN_NETNS_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

/* This thread's own network namespace (the thread's, not the process's: setns is per thread). */
static inline int pw_open_self_netns(void) {
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 || errno != ENOENT) return fd;
  char path[64]; /* kernels before 3.17 have no /proc/thread-self */
  snprintf(path, sizeof path, "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
  return open(path, O_RDONLY | O_CLOEXEC);
}

/* The inode of a namespace file descriptor (what /proc/<pid>/ns/net links to), 0 if unknown. */
static inline uint32_t pw_ns_inode(int nsfd) {
  struct stat st;
  return fstat(nsfd, &st) == 0 ? (uint32_t)st.st_ino : 0;
}

/*
 * socket(AF_NETLINK, SOCK_RAW | flags, NETLINK_SOCK_DIAG) inside nspath (here when NULL). Returns
 * the fd or -errno with *step naming the failed step; *netns (when not NULL) gets the namespace's
 * inode. Not returning to the own namespace would silently move every later socket of this thread
 * into the other one: that aborts the process.
 */
static inline int pw_diag_socket_in(const char *nspath, int flags, uint32_t *netns, const char **step) {
  if (nspath == NULL) {
    if (netns != NULL) {
      int self = pw_open_self_netns();
      if (self < 0) { *step = "open(own netns)"; return -errno; }
      *netns = pw_ns_inode(self);
      close(self);
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, NETLINK_SOCK_DIAG);
    *step = "socket(NETLINK_SOCK_DIAG)";
    return fd >= 0 ? fd : -errno;
  }
  int self = pw_open_self_netns();
  if (self < 0) { *step = "open(own netns)"; return -errno; }
  int target = open(nspath, O_RDONLY | O_CLOEXEC);
  if (target < 0) { int e = errno; close(self); *step = "open(netns)"; return -e; }
  if (netns != NULL) *netns = pw_ns_inode(target);
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(target);
    close(self);
    *step = "setns(netns)";
    return -e;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, NETLINK_SOCK_DIAG);
  int e = errno;
  if (setns(self, CLONE_NEWNET) != 0) {
    fprintf(stderr, "portwarden: cannot return to the own network namespace\n");
    abort();
  }
  close(target);
  close(self);
  *step = "socket(NETLINK_SOCK_DIAG) in netns";
  return fd >= 0 ? fd : -e;
}

#endif
