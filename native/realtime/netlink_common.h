/*
 * What netlink_addon.c (the N-API side) shares with its two producers, proc_connector.c and
 * sock_destroy.c: the growable record buffer and the producer interface. Records are records.h's.
 */
#ifndef PORTWARDEN_NETLINK_COMMON_H
#define PORTWARDEN_NETLINK_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "records.h"

/* One delivery: back-to-back records, handed to JavaScript as one Buffer per wakeup. */
typedef struct {
  uint8_t *data;
  size_t len, cap;
} pw_buf_t;

/* Producer state. `fd` is non-blocking; drains stop at EAGAIN or after PW_DRAIN_MAX messages
 * (the poll is level-triggered: the rest comes on the next loop iteration, so a storm of events
 * cannot hold the JavaScript thread). */
typedef struct {
  int fd;
  uint64_t lost;      /* ENOBUFS seen (each one: an unknown number of messages dropped by the kernel) */
  int read_proc;      /* proc connector: fill records from /proc at receipt */
  uint32_t netns;     /* sock destroy: inode of the socket's network namespace */
  uint32_t nl_seq;
  uint8_t *rx;        /* receive buffer, PW_RX_SIZE bytes */
} pw_source_t;

#define PW_RX_SIZE (16 * 1024)
#define PW_DRAIN_MAX 1024
#define PW_UNKNOWN_ID 0xffffffffu


static inline uint64_t pw_boottime_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_BOOTTIME, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Appends a zeroed record with payload bytes after the header (size padded to 8) and its header's
 * magic, type, size and ts_ns (now, CLOCK_BOOTTIME) set, uid/euid/gid unknown. NULL on ENOMEM. */
static inline struct pw_header *pw_buf_record(pw_buf_t *b, uint16_t type, size_t payload) {
  size_t size = (sizeof(struct pw_header) + payload + 7) & ~(size_t)7;
  if (size > UINT16_MAX) return NULL;
  if (b->len + size > b->cap) {
    size_t cap = b->cap == 0 ? 64 * 1024 : b->cap;
    while (cap < b->len + size) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL) return NULL;
    b->data = d;
    b->cap = cap;
  }
  struct pw_header *h = (struct pw_header *)(b->data + b->len);
  memset(h, 0, size);
  h->magic = PW_MAGIC;
  h->type = type;
  h->size = (uint16_t)size;
  h->uid = h->euid = h->gid = PW_UNKNOWN_ID;
  h->ts_ns = pw_boottime_ns();
  b->len += size;
  return h;
}

/* Appends a PW_LOST record; 0 or ENOMEM. */
static inline int pw_buf_lost(pw_buf_t *b, uint64_t count) {
  struct pw_header *h = pw_buf_record(b, PW_LOST, sizeof(struct pw_lost));
  if (h == NULL) return ENOMEM;
  ((struct pw_lost *)(h + 1))->count = count;
  return 0;
}

/* Opening: returns the fd (also stored in s->fd) or -errno, with *step naming the failed step and
 * *hint the likely cause in plain words ("" when none). */
int pc_open(pw_source_t *s, const char **step, const char **hint);
int sd_open(pw_source_t *s, const char *nspath, int tcp, const char **step, const char **hint);

/* Draining: appends the records of every pending message to out; 0, or an errno value when the
 * socket failed for good (ENOBUFS is not a failure: it is counted and reported as PW_LOST). */
int pc_drain(pw_source_t *s, pw_buf_t *out);
int sd_drain(pw_source_t *s, pw_buf_t *out);
/* Before closing a proc connector socket: stop listening (the kernel keeps count). */
void pc_ignore(pw_source_t *s);

#endif
