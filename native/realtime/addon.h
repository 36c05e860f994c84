/*
 * What addon.c (the N-API handle: open, start, close, describe) and delivery.c (draining the ring
 * buffer into JavaScript, with wakeups that adapt to the rate) share.
 */
#ifndef PORTWARDEN_ADDON_H
#define PORTWARDEN_ADDON_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "ebpf.h"

typedef struct {
  struct pw_ebpf e;
  napi_env env;
  uv_poll_t *poll;
  uv_timer_t *timer;
  uint32_t flush_ms;
  int batching;     /* records flow: the kernel wakes the reader per quarter ring, the timer drains */
  int quiet_ticks;  /* ticks in a row that found nothing */
  napi_ref cb;
  napi_ref self; /* the JS handle: weak, strong while started (a started handle is never collected) */
  napi_async_context actx;
  int open;
  int hooked; /* the env cleanup hook is registered */
} handle_t;

/* Drains the ring and calls back once; returns the bytes delivered (0: nothing was there). */
size_t pw_deliver(handle_t *h);

/* Batching: the kernel wakes the reader per quarter ring and the timer drains every flush_ms (idle
 * again after five quiet ticks). start() begins here, so that what the programs recorded between
 * open and start (woken no one) is drained by the first tick. */
void pw_go_batching(handle_t *h);

/* uv_poll callback on the ring buffer's epoll fd: delivers, and starts batching when records flow. */
void pw_on_readable(uv_poll_t *p, int status, int events);

#endif
