/*
 * Delivery of the eBPF ring buffer to JavaScript: one callback per wakeup or tick with everything
 * available, never one per record, and wakeups that adapt to the rate (see below).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "addon.h"

size_t pw_deliver(handle_t *h) {
  if (!h->open || !h->cb) return 0;
  napi_env env = h->env;
  if (pw_ebpf_drain(&h->e) != 0 || h->e.out.len == 0) return 0;
  size_t len = h->e.out.len;

  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value buf, fn, recv, result;
  if (napi_create_buffer_copy(env, h->e.out.len, h->e.out.data, NULL, &buf) == napi_ok
      && napi_get_reference_value(env, h->cb, &fn) == napi_ok && napi_get_global(env, &recv) == napi_ok) {
    /* After a burst the buffer can be large; give it back rather than keep the peak. */
    if (h->e.out.cap > 4 * (size_t)h->e.ring_bytes + 65536) {
      free(h->e.out.data);
      h->e.out.data = NULL;
      h->e.out.cap = 0;
    }
    h->e.out.len = 0;
    napi_make_callback(env, h->actx, recv, fn, 1, &buf, &result);
    /* h may be closed by now (the callback called stop()); it is not freed until finalize. */
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value ex;
      if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
  return len;
}

/*
 * Wakeups adapt to the rate. Idle, each record wakes the reader (once it has caught up), so a lone
 * exec or listen is delivered at once and an idle agent has no timer running. Once records flow,
 * the kernel wakes the reader only per quarter ring and a timer drains every flush_ms: a wakeup per
 * record costs ~13 us of kernel time in the producing task. Five quiet ticks in a row go back to
 * idle; the drain right after the switch takes what came in between (those records woke no one).
 */
#define QUIET_TICKS 5

static void on_tick(uv_timer_t *t);

static void go_idle(handle_t *h) {
  if (!h->batching) return;
  h->batching = 0;
  h->quiet_ticks = 0;
  uv_timer_stop(h->timer);
  pw_ebpf_set_wakeup(&h->e, 0);
}

void pw_go_batching(handle_t *h) {
  if (h->batching || !h->timer || h->flush_ms == 0 || !h->open) return;
  if (pw_ebpf_set_wakeup(&h->e, h->e.ring_bytes / 4) != 0) return;
  h->batching = 1;
  h->quiet_ticks = 0;
  uv_timer_start(h->timer, on_tick, h->flush_ms, h->flush_ms);
}

void pw_on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  handle_t *h = p->data;
  if (status == 0 && pw_deliver(h) > 0) pw_go_batching(h); /* else an epoll error on the ring's fd: nothing to read */
}

static void on_tick(uv_timer_t *t) {
  handle_t *h = t->data;
  if (pw_deliver(h) > 0) {
    h->quiet_ticks = 0;
  } else if (++h->quiet_ticks >= QUIET_TICKS) {
    go_idle(h);
    if (pw_deliver(h) > 0) pw_go_batching(h);
  }
}

