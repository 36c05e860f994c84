/*
 * realtime.node: the eBPF producer of the real-time Linux source, delivered to JavaScript as
 * Buffers of back-to-back records.h records (one Buffer per ring buffer wakeup, never one call per
 * record).
 *
 * openEbpf({ object: string, ringBytes: number, prefer?: 'tp_btf' | 'tracepoint', flushMs?: number,
 *            connections?: { loopback: boolean, windowMs: number } }) -> handle
 *   Opens the BPF object at `object` (portwarden.bpf.o), sizes its ring buffer to `ringBytes` (a
 *   power of two, at least the page size), loads and attaches it: tp_btf programs first (unless
 *   prefer is 'tracepoint'), classic tracepoints when that fails. The UDP bind programs are
 *   optional (classic syscall tracepoints, need tracefs). flushMs (integer 0..60000, default 20):
 *   wakeups adapt to the rate. While idle every record wakes the reader (no timer runs: an idle
 *   agent costs nothing here); once records flow, the kernel wakes the reader only when a quarter
 *   of the ring is unread and a timer drains it every flushMs, so records wait up to about that
 *   long (a wakeup per record costs ~13 us of kernel time in a VM); after five quiet ticks it is
 *   idle again. 0: never batch (a wakeup per record whenever the reader has caught up).
 *   connections: also load the outbound TCP connection program (PW_CONNECT records); loopback:
 *   report peers on loopback too; windowMs (integer 0..86400000): one record per process, peer
 *   address and port per window (0: every attempt). Absent: no connection program is loaded.
 *   Errors throw an Error with `code` the errno name (EPERM, ENOENT, ...), `syscall` the failed
 *   step, and a message naming step, error and likely cause, e.g. "bpf_object__load: Operation
 *   not permitted (needs CAP_BPF and CAP_PERFMON, or root; ...)". Bad options: TypeError or
 *   RangeError with code EINVAL.
 *
 * handle.start(callback: (buf: Buffer) => void) -> undefined
 *   Watches the ring buffer's epoll fd from the libuv loop (and, while records flow, ticks every flushMs, a timer that
 *   does not keep the loop alive); on every wakeup or tick with data, drains everything available
 *   and calls callback once with the records. When the kernel dropped records since the
 *   last delivery (ring buffer full), the Buffer starts with a PW_LOST record counting them.
 *   The Buffer is the callback's own (a copy). Throws if closed or already started.
 * handle.stop() / handle.close() -> undefined
 *   Both detach every program and free everything; idempotent. Also done at environment teardown
 *   and when an unstarted (or stopped) handle is garbage-collected; a started one is kept alive.
 * handle.lost() -> number
 *   Records dropped in the kernel so far (the sum of the per-CPU counter); after close, the last
 *   value read.
 * handle.connStats() -> { reported: number, suppressed: number, loopback: number }
 *   The connection program's counters so far: attempts recorded, folded into an earlier record by
 *   the dedupe window, skipped as loopback (all 0 when the program does not run or after close).
 * handle.describe() -> { attach: 'tp_btf' | 'tracepoint', programs: string[], missing: string[], ringBytes: number, flushMs: number }
 *   programs: the attached BPF programs (empty after close); missing: sentences saying what is not
 *   seen and why (e.g. UDP binds when tracefs is absent).
 *
 * probe() -> { btf: boolean, tracefs: boolean }
 *   btf: /sys/kernel/btf/vmlinux is readable; tracefs: syscalls/sys_exit_bind exists under
 *   /sys/kernel/tracing/events or /sys/kernel/debug/tracing/events.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"
#include "../common/napi_error.h"
#include "records.h"


#define CHECK(call) \
  do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "N-API call failed"); return NULL; } } while (0)

static napi_value throw_errno(napi_env env, int e, const char *step, const char *msg) {
  return pw_throw_errno(env, e, step, msg);
}

static void free_uv(uv_handle_t *p) { free(p); }

/* Everything but the handle_t itself, which the JS object owns. Idempotent. */
static void handle_close(handle_t *h) {
  if (h->poll) {
    uv_poll_stop(h->poll);
    uv_close((uv_handle_t *)h->poll, free_uv);
    h->poll = NULL;
  }
  if (h->timer) {
    uv_timer_stop(h->timer);
    uv_close((uv_handle_t *)h->timer, free_uv);
    h->timer = NULL;
  }
  if (h->cb) {
    napi_delete_reference(h->env, h->cb);
    h->cb = NULL;
    if (h->self) napi_reference_unref(h->env, h->self, NULL);
  }
  if (h->actx) {
    napi_async_destroy(h->env, h->actx);
    h->actx = NULL;
  }
  if (h->open) {
    pw_ebpf_close(&h->e);
    h->open = 0;
  }
}

static void cleanup_hook(void *arg) {
  handle_t *h = arg;
  h->hooked = 0;
  handle_close(h);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  handle_t *h = data;
  handle_close(h);
  if (h->hooked) napi_remove_env_cleanup_hook(env, cleanup_hook, h);
  if (h->self) napi_delete_reference(env, h->self);
  free(h);
}

static handle_t *this_handle(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok
      || napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "EINVAL", "not an eBPF handle");
    return NULL;
  }
  return data;
}

static napi_value h_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  handle_t *h = this_handle(env, info, &argc, argv);
  if (!h) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "EINVAL", "start(callback): callback must be a function");
    return NULL;
  }
  if (!h->open) return throw_errno(env, EBADF, "start", "start: the handle is closed");
  if (h->poll) return throw_errno(env, EBUSY, "start", "start: already started");

  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "portwarden.realtime", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &h->actx));
  CHECK(napi_create_reference(env, argv[0], 1, &h->cb));
  uv_poll_t *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, ENOMEM, "start", "start: out of memory");
  int err = uv_poll_init(loop, p, pw_ebpf_epoll_fd(&h->e));
  if (err == 0) {
    p->data = h;
    err = uv_poll_start(p, UV_READABLE, pw_on_readable);
    if (err != 0) uv_close((uv_handle_t *)p, free_uv);
  } else {
    free(p);
  }
  if (err != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "uv_poll_start(ring buffer epoll fd): %s", uv_strerror(err));
    napi_delete_reference(env, h->cb);
    h->cb = NULL;
    napi_async_destroy(env, h->actx);
    h->actx = NULL;
    return throw_errno(env, -err, "uv_poll_start", msg);
  }
  h->poll = p;
  if (h->flush_ms > 0 && (h->timer = calloc(1, sizeof *h->timer)) != NULL) {
    /* Started when records flow (go_batching); the kernel wakes the reader per record until then. */
    uv_timer_init(loop, h->timer);
    h->timer->data = h;
    uv_unref((uv_handle_t *)h->timer);
  }
  /* Records made since open woke no one (the reader had not caught up): the first tick drains
   * them, and five quiet ticks later the handle is idle (per-record wakeups, no timer). */
  h->batching = 0;
  if (h->timer) pw_go_batching(h);
  else pw_ebpf_set_wakeup(&h->e, 0);
  if (h->self) napi_reference_ref(env, h->self, NULL);
  return NULL;
}

static napi_value h_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = this_handle(env, info, &argc, NULL);
  if (h) handle_close(h);
  return NULL;
}

static napi_value h_lost(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = this_handle(env, info, &argc, NULL);
  if (!h) return NULL;
  napi_value v;
  CHECK(napi_create_double(env, (double)pw_ebpf_lost(&h->e), &v));
  return v;
}

static napi_value h_conn_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = this_handle(env, info, &argc, NULL);
  if (!h) return NULL;
  uint64_t st[PW_CONN_NSTATS] = {0};
  if (h->open) pw_ebpf_conn_stats(&h->e, st);
  static const char *const names[PW_CONN_NSTATS] = {"reported", "suppressed", "loopback"};
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  for (int i = 0; i < PW_CONN_NSTATS; i++) {
    CHECK(napi_create_double(env, (double)st[i], &v));
    CHECK(napi_set_named_property(env, o, names[i], v));
  }
  return o;
}

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  return v;
}

static napi_value h_describe(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = this_handle(env, info, &argc, NULL);
  if (!h) return NULL;
  napi_value o, programs, missing, ring;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_array(env, &programs));
  CHECK(napi_create_array(env, &missing));
  for (int i = 0; h->open && i < h->e.nlinks; i++) CHECK(napi_set_element(env, programs, i, str(env, h->e.names[i])));
  for (int i = 0; i < h->e.nmissing; i++) CHECK(napi_set_element(env, missing, i, str(env, h->e.missing[i])));
  if (!h->open) CHECK(napi_set_element(env, missing, 0, str(env, "everything: the handle is closed")));
  CHECK(napi_create_uint32(env, h->e.ring_bytes, &ring));
  CHECK(napi_set_named_property(env, o, "attach", str(env, h->e.attach ? h->e.attach : "tp_btf")));
  CHECK(napi_set_named_property(env, o, "programs", programs));
  CHECK(napi_set_named_property(env, o, "missing", missing));
  CHECK(napi_set_named_property(env, o, "ringBytes", ring));
  CHECK(napi_create_uint32(env, h->flush_ms, &ring));
  CHECK(napi_set_named_property(env, o, "flushMs", ring));
  return o;
}

static napi_value noop_ctor(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  return self;
}

static napi_value get_prop(napi_env env, napi_value o, const char *key, napi_valuetype want, int required) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, o, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == want || (!required && t == napi_undefined)) return v;
  char msg[128];
  snprintf(msg, sizeof msg, "openEbpf: options.%s must be a %s", key,
           want == napi_string ? "string" : want == napi_boolean ? "boolean" : "number");
  napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

static napi_value open_ebpf(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], ctor;
  napi_valuetype t = napi_undefined;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object) {
    napi_throw_type_error(env, "EINVAL", "openEbpf(options): options must be an object");
    return NULL;
  }
  napi_value vobj = get_prop(env, argv[0], "object", napi_string, 1);
  if (!vobj) return NULL;
  napi_value vring = get_prop(env, argv[0], "ringBytes", napi_number, 1);
  if (!vring) return NULL;
  napi_value vprefer = get_prop(env, argv[0], "prefer", napi_string, 0);
  if (!vprefer) return NULL;
  napi_value vflush = get_prop(env, argv[0], "flushMs", napi_number, 0);
  if (!vflush) return NULL;
  double flush = 20;
  CHECK(napi_typeof(env, vflush, &t));
  if (t == napi_number) CHECK(napi_get_value_double(env, vflush, &flush));
  if (!(flush >= 0 && flush <= 60000) || flush != (double)(uint32_t)flush) {
    napi_throw_range_error(env, "EINVAL", "openEbpf: options.flushMs must be an integer from 0 to 60000");
    return NULL;
  }

  napi_value vconn;
  struct pw_conn_opts conn = {0};
  int want_conn = 0;
  CHECK(napi_get_named_property(env, argv[0], "connections", &vconn));
  CHECK(napi_typeof(env, vconn, &t));
  if (t == napi_object) {
    napi_value vlo = get_prop(env, vconn, "loopback", napi_boolean, 1);
    if (!vlo) return NULL;
    napi_value vwin = get_prop(env, vconn, "windowMs", napi_number, 1);
    if (!vwin) return NULL;
    bool lo;
    double win;
    CHECK(napi_get_value_bool(env, vlo, &lo));
    CHECK(napi_get_value_double(env, vwin, &win));
    if (!(win >= 0 && win <= 86400000) || win != (double)(uint32_t)win) {
      napi_throw_range_error(env, "EINVAL", "openEbpf: options.connections.windowMs must be an integer from 0 to 86400000");
      return NULL;
    }
    conn.flags = lo ? PW_CONN_LOOPBACK : 0;
    conn.window_ns = (uint64_t)win * 1000000u;
    want_conn = 1;
  } else if (t != napi_undefined) {
    napi_throw_type_error(env, "EINVAL", "openEbpf: options.connections must be an object");
    return NULL;
  }

  char object[4096], prefer[16] = "";
  size_t n;
  CHECK(napi_get_value_string_utf8(env, vobj, object, sizeof object, &n));
  if (n == 0 || n >= sizeof object - 1) {
    napi_throw_type_error(env, "EINVAL", "openEbpf: options.object must be a path");
    return NULL;
  }
  CHECK(napi_typeof(env, vprefer, &t));
  if (t == napi_string) CHECK(napi_get_value_string_utf8(env, vprefer, prefer, sizeof prefer, &n));
  if (t == napi_string && strcmp(prefer, "tp_btf") != 0 && strcmp(prefer, "tracepoint") != 0) {
    napi_throw_type_error(env, "EINVAL", "openEbpf: options.prefer must be 'tp_btf' or 'tracepoint'");
    return NULL;
  }
  double ring;
  CHECK(napi_get_value_double(env, vring, &ring));
  long page = sysconf(_SC_PAGESIZE);
  uint32_t r = ring >= 1 && ring <= (double)(1u << 31) ? (uint32_t)ring : 0;
  if ((double)r != ring || r < (uint32_t)page || (r & (r - 1)) != 0) {
    napi_throw_range_error(env, "EINVAL", "openEbpf: options.ringBytes must be a power of two, at least the page size");
    return NULL;
  }

  handle_t *h = calloc(1, sizeof *h);
  if (!h) return throw_errno(env, ENOMEM, "openEbpf", "openEbpf: out of memory");
  h->env = env;
  h->flush_ms = (uint32_t)flush;
  char msg[1024];
  int err = pw_ebpf_open(&h->e, object, r, h->flush_ms ? r / 4 : 0, strcmp(prefer, "tracepoint") == 0,
                         want_conn ? &conn : NULL, msg, sizeof msg);
  if (err != 0) {
    free(h);
    char step[64];
    size_t len = strcspn(msg, ":");
    snprintf(step, sizeof step, "%.*s", (int)(len < sizeof step ? len : sizeof step - 1), msg);
    return throw_errno(env, -err, step, msg);
  }
  h->open = 1;

  napi_value self;
  napi_ref *ctor_ref = NULL;
  if (napi_get_instance_data(env, (void **)&ctor_ref) != napi_ok || !ctor_ref
      || napi_get_reference_value(env, *ctor_ref, &ctor) != napi_ok || napi_new_instance(env, ctor, 0, NULL, &self) != napi_ok
      || napi_wrap(env, self, h, finalize, NULL, NULL) != napi_ok) {
    handle_close(h);
    free(h);
    napi_throw_error(env, NULL, "openEbpf: could not create the handle object");
    return NULL;
  }
  if (napi_create_reference(env, self, 0, &h->self) != napi_ok) h->self = NULL;
  if (napi_add_env_cleanup_hook(env, cleanup_hook, h) == napi_ok) h->hooked = 1;
  return self;
}

static napi_value probe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o, btf, tracefs;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_get_boolean(env, pw_probe_btf(), &btf));
  CHECK(napi_get_boolean(env, pw_probe_tracefs(), &tracefs));
  CHECK(napi_set_named_property(env, o, "btf", btf));
  CHECK(napi_set_named_property(env, o, "tracefs", tracefs));
  return o;
}

static void free_ctor_ref(napi_env env, void *data, void *hint) {
  (void)hint;
  napi_delete_reference(env, *(napi_ref *)data);
  free(data);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
    {"start", NULL, h_start, NULL, NULL, NULL, napi_default, NULL},
    {"stop", NULL, h_close, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, h_close, NULL, NULL, NULL, napi_default, NULL},
    {"lost", NULL, h_lost, NULL, NULL, NULL, napi_default, NULL},
    {"connStats", NULL, h_conn_stats, NULL, NULL, NULL, napi_default, NULL},
    {"describe", NULL, h_describe, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value ctor, fn;
  napi_ref *ref = malloc(sizeof *ref);
  if (!ref) return NULL;
  if (napi_define_class(env, "EbpfHandle", NAPI_AUTO_LENGTH, noop_ctor, NULL, sizeof methods / sizeof methods[0], methods, &ctor) != napi_ok
      || napi_create_reference(env, ctor, 1, ref) != napi_ok
      || napi_set_instance_data(env, ref, free_ctor_ref, NULL) != napi_ok) {
    free(ref);
    return NULL;
  }
  if (napi_create_function(env, "openEbpf", NAPI_AUTO_LENGTH, open_ebpf, NULL, &fn) != napi_ok
      || napi_set_named_property(env, exports, "openEbpf", fn) != napi_ok
      || napi_create_function(env, "probe", NAPI_AUTO_LENGTH, probe, NULL, &fn) != napi_ok
      || napi_set_named_property(env, exports, "probe", fn) != napi_ok) {
    return NULL;
  }
  return exports;
}
