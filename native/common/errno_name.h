/*
 * The errno name ("EPERM") the addons put in an Error's `code`, as Node's own errors do. Shared by
 * sock_diag.node, realtime.node and netlink_events.node (header-only: each addon is one shared
 * object built from its own sources, see scripts/build-native.mjs).
 */
#ifndef PORTWARDEN_ERRNO_NAME_H
#define PORTWARDEN_ERRNO_NAME_H

#include <errno.h>
#include <string.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
/* glibc declares it only under _GNU_SOURCE, which must precede every system header of a file. */
extern const char *strerrorname_np(int errnum);
#endif

static inline const char *pw_errno_name(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(e);
  if (n != NULL) return n;
#endif
  /* Older C libraries: the errors the addons' callers act on. */
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case EPROTO: return "EPROTO";
    case EMSGSIZE: return "EMSGSIZE";
    case E2BIG: return "E2BIG";
    case ENOTSUP: return "ENOTSUP";
    case ESRCH: return "ESRCH";
    case EBUSY: return "EBUSY";
    default: return "EUNKNOWN";
  }
}

#endif
