/*
 * netlink_events.node: the real-time source's two netlink producers, delivering records.h records.
 *
 * openProcConnector(options?: { readProc?: boolean }) -> Handle
 * The proc connector (cn_proc): PW_FORK (new processes only, not threads), PW_EXEC, PW_EXIT (the
 * thread-group leader only). readProc (default true) fills each record from /proc at receipt and
 * sets PW_F_FROM_PROC; a process already gone keeps the event's pids (and the parent for fork and
 * exit), and an exec without argv has PW_F_ARGS_MISSING. Needs CAP_NET_ADMIN.
 *
 * openSockDestroy(options: { netnsPath?: string, tcp?: boolean }) -> Handle
 * Socket destroy notifications (what `ss -E` shows): PW_DESTROY for every UDP socket (and with tcp
 * every TCP socket) with a local port that the kernel frees, in the namespace of netnsPath (default:
 * the caller's). No privilege needed on 6.18 except CAP_SYS_ADMIN to enter another namespace.
 * Connected sockets are left out (see sock_destroy.c); pw_sock.inode and the uid are 0 / unknown
 * because the kernel builds the notification after the socket's file is gone.
 *
 * Handle:
 *   start(callback: (buf: Buffer, err?: Error) => void): void
 *     Polls the socket on the event loop. Each wakeup drains the pending messages (up to 1,024)
 *     and calls callback once with one Buffer of back-to-back records (never once per record).
 *     A ENOBUFS from the kernel (messages dropped, number unknown) becomes one PW_LOST record with
 *     count 1. If the socket fails for good, callback gets (records so far, err) and polling stops.
 *     Calling start again replaces the callback. A started handle is not garbage collected.
 *   stop(): void       stops polling; start may be called again. Idempotent.
 *   close(): void      stops and closes the socket. Idempotent; also done at environment teardown
 *                      and when the handle is garbage collected.
 *   lost(): number     ENOBUFS seen so far.
 * Errors throw an Error whose `code` is the errno name (EPERM, ENOENT, ...), `syscall` the failed
 * step, and whose message names the step and the likely cause, e.g.
 * "proc connector: bind: Operation not permitted (needs CAP_NET_ADMIN)".
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <limits.h>
#include "netlink_common.h"
#include "../common/napi_error.h"

#define BUF_KEEP (1024 * 1024) /* a delivery buffer grown past this is freed after the delivery */

typedef struct handle {
  napi_env env;
  const char *label;
  int (*drain)(pw_source_t *, pw_buf_t *);
  pw_source_t src;
  pw_buf_t out;
  uv_poll_t poll;
  int poll_inited;  /* uv_poll_init done, uv_close not called */
  int poll_closing; /* uv_close called, its callback not run yet */
  int started, closed, finalized;
  napi_ref callback, self;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
} handle_t;

/* Error "<label>: <step>: <strerror> (<hint>)" with code and syscall; NULL when even that failed. */
static napi_value make_error(napi_env env, int e, const char *label, const char *step, const char *hint) {
  char msg[512];
  if (hint != NULL && hint[0] != '\0') snprintf(msg, sizeof msg, "%s: %s: %s (%s)", label, step, strerror(e), hint);
  else snprintf(msg, sizeof msg, "%s: %s: %s", label, step, strerror(e));
  return pw_errno_error(env, e, step, msg);
}

static napi_value throw_errno(napi_env env, int e, const char *label, const char *step, const char *hint) {
  napi_value err = make_error(env, e, label, step, hint);
  if (err != NULL) napi_throw(env, err);
  else napi_throw_error(env, pw_errno_name(e), strerror(e));
  return NULL;
}

static void stop_polling(handle_t *h) {
  if (!h->started) return;
  h->started = 0;
  if (h->poll_inited) uv_poll_stop(&h->poll);
  napi_delete_reference(h->env, h->callback);
  napi_delete_reference(h->env, h->self);
  napi_async_destroy(h->env, h->actx);
  h->callback = h->self = NULL;
  h->actx = NULL;
}

/* The socket is closed only once libuv no longer polls it. */
static void finish_close(handle_t *h) {
  if (h->drain == pc_drain) pc_ignore(&h->src);
  if (h->src.fd >= 0) close(h->src.fd);
  h->src.fd = -1;
  if (h->hook != NULL) {
    napi_remove_async_cleanup_hook(h->hook);
    h->hook = NULL;
  }
  free(h->out.data);
  free(h->src.rx);
  h->out = (pw_buf_t){ 0 };
  h->src.rx = NULL;
  if (h->finalized) free(h);
}

static void on_poll_closed(uv_handle_t *p) {
  handle_t *h = p->data;
  h->poll_closing = 0;
  finish_close(h);
}

/* Stops and closes; the handle's memory goes when it is also finalized. */
static void close_handle(handle_t *h) {
  if (h->closed) return;
  h->closed = 1;
  stop_polling(h);
  if (h->poll_inited) {
    h->poll_inited = 0;
    h->poll_closing = 1;
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
    return;
  }
  finish_close(h);
}

static void on_env_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  close_handle(arg); /* removes the hook when the close completes */
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  handle_t *h = data;
  h->finalized = 1;
  if (!h->closed) close_handle(h);        /* frees h once closed */
  else if (!h->poll_closing) free(h);     /* closed earlier: nothing pending */
}

/* Hands the drained records (and err when the socket failed) to the callback. */
static void deliver(handle_t *h, int err) {
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[2], cb = NULL, recv, result;
  size_t argc = 1;
  void *unused;
  int ok = napi_create_buffer_copy(env, h->out.len, h->out.len == 0 ? "" : (const char *)h->out.data, &unused, &argv[0]) == napi_ok
    && napi_get_reference_value(env, h->callback, &cb) == napi_ok && cb != NULL
    && napi_get_global(env, &recv) == napi_ok; /* make_callback needs an object receiver */
  h->out.len = 0;
  if (h->out.cap > BUF_KEEP) {
    free(h->out.data);
    h->out.data = NULL;
    h->out.cap = 0;
  }
  napi_async_context actx = h->actx;
  napi_ref old_cb = NULL, old_self = NULL;
  if (err != 0) {
    /* Stopped before the call, which may start again (new references) or close. */
    argv[1] = make_error(env, err, h->label, "recv", "");
    if (argv[1] != NULL) argc = 2;
    uv_poll_stop(&h->poll);
    h->started = 0;
    old_cb = h->callback;
    old_self = h->self;
    h->callback = h->self = NULL;
    h->actx = NULL;
  }
  if (ok && napi_make_callback(env, actx, recv, cb, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
  if (err != 0) {
    napi_delete_reference(env, old_cb);
    napi_delete_reference(env, old_self);
    napi_async_destroy(env, actx);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  handle_t *h = p->data;
  if (!h->started) return;
  uint64_t lost = h->src.lost;
  int err = h->drain(&h->src, &h->out);
  /* libuv reports a pending socket error (EPOLLERR) as UV_EBADF and stops the poll. On netlink that
   * error is the ENOBUFS of an overrun, which the drain has just read and counted: poll on. */
  if (status < 0 && err == 0) err = h->src.lost == lost ? -status : -uv_poll_start(&h->poll, UV_READABLE, on_readable);
  if (h->out.len > 0 || err != 0) deliver(h, err);
}

static handle_t *this_handle(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *self) {
  napi_value this_arg;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &this_arg, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, this_arg, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "EINVAL", "not a netlink handle");
    return NULL;
  }
  if (self != NULL) *self = this_arg;
  return data;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, name, resource;
  handle_t *h = this_handle(env, info, &argc, argv, &self);
  if (h == NULL) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "EINVAL", "start(callback: (buf: Buffer, err?: Error) => void)");
    return NULL;
  }
  if (h->closed) return throw_errno(env, EBADF, h->label, "start", "the handle is closed");
  if (h->started) { /* replace the callback */
    napi_delete_reference(env, h->callback);
    if (napi_create_reference(env, argv[0], 1, &h->callback) != napi_ok) h->callback = NULL;
    return NULL;
  }
  if (!h->poll_inited) {
    uv_loop_t *loop = NULL;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
    int r = uv_poll_init(loop, &h->poll, h->src.fd);
    if (r != 0) return throw_errno(env, -r, h->label, "uv_poll_init", "");
    h->poll.data = h;
    h->poll_inited = 1;
  }
  if (napi_create_string_utf8(env, "portwarden:netlink", NAPI_AUTO_LENGTH, &name) != napi_ok
    || napi_create_object(env, &resource) != napi_ok
    || napi_async_init(env, resource, name, &h->actx) != napi_ok) return NULL;
  if (napi_create_reference(env, argv[0], 1, &h->callback) != napi_ok
    || napi_create_reference(env, self, 1, &h->self) != napi_ok) return NULL;
  h->started = 1;
  int r = uv_poll_start(&h->poll, UV_READABLE, on_readable);
  if (r != 0) stop_polling(h);
  return r != 0 ? throw_errno(env, -r, h->label, "uv_poll_start", "") : NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = this_handle(env, info, &argc, NULL, NULL);
  if (h != NULL) stop_polling(h);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  handle_t *h = this_handle(env, info, &argc, NULL, NULL);
  if (h != NULL) close_handle(h);
  return NULL;
}

static napi_value js_lost(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value n;
  handle_t *h = this_handle(env, info, &argc, NULL, NULL);
  if (h == NULL || napi_create_double(env, (double)h->src.lost, &n) != napi_ok) return NULL;
  return n;
}

static napi_value js_construct(napi_env env, napi_callback_info info) {
  napi_value this_arg;
  if (napi_get_cb_info(env, info, NULL, NULL, &this_arg, NULL) != napi_ok) return NULL;
  return this_arg;
}

/* A new Handle object owning h, whose producer's open returned fd; h is freed on failure. */
static napi_value wrap_handle(napi_env env, handle_t *h, int fd, const char *step, const char *hint) {
  napi_ref ctor_ref = NULL;
  napi_value ctor, obj;
  if (fd < 0) {
    throw_errno(env, -fd, h->label, step, hint);
    free(h->src.rx);
    free(h);
    return NULL;
  }
  if (napi_get_instance_data(env, (void **)&ctor_ref) != napi_ok || ctor_ref == NULL
    || napi_get_reference_value(env, ctor_ref, &ctor) != napi_ok
    || napi_new_instance(env, ctor, 0, NULL, &obj) != napi_ok
    || napi_wrap(env, obj, h, finalize, NULL, NULL) != napi_ok) {
    close(h->src.fd);
    free(h->src.rx);
    free(h);
    return NULL;
  }
  /* From here the handle is the object's: teardown and finalize close it. */
  if (napi_add_async_cleanup_hook(env, on_env_teardown, h, &h->hook) != napi_ok) h->hook = NULL;
  return obj;
}

static handle_t *new_handle(napi_env env, const char *label, int (*drain)(pw_source_t *, pw_buf_t *)) {
  handle_t *h = calloc(1, sizeof *h);
  if (h != NULL) h->src.rx = malloc(PW_RX_SIZE);
  if (h == NULL || h->src.rx == NULL) {
    free(h);
    throw_errno(env, ENOMEM, label, "malloc", "");
    return NULL;
  }
  *h = (handle_t){ .env = env, .label = label, .drain = drain, .src = { .fd = -1, .rx = h->src.rx } };
  return h;
}

/* options[key] as a boolean; dflt when absent; -1 (TypeError thrown) when not a boolean. */
static int bool_option(napi_env env, napi_value options, const char *key, int dflt, const char *usage) {
  napi_valuetype t;
  napi_value v;
  bool b = false;
  if (options == NULL) return dflt;
  if (napi_get_named_property(env, options, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return dflt;
  if (t != napi_boolean || napi_get_value_bool(env, v, &b) != napi_ok) { napi_throw_type_error(env, "EINVAL", usage); return -1; }
  return b ? 1 : 0;
}

/* The options object argument, NULL when absent; 0 when it is not an object (TypeError thrown). */
static int options_arg(napi_env env, napi_callback_info info, napi_value *options, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  *options = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc >= 1 && napi_typeof(env, argv[0], &t) != napi_ok) return 0;
  if (t == napi_undefined || t == napi_null) return 1;
  if (t != napi_object) { napi_throw_type_error(env, "EINVAL", usage); return 0; }
  *options = argv[0];
  return 1;
}

static napi_value open_proc_connector(napi_env env, napi_callback_info info) {
  static const char usage[] = "openProcConnector(options?: { readProc?: boolean })";
  napi_value options;
  if (!options_arg(env, info, &options, usage)) return NULL;
  int read_proc = bool_option(env, options, "readProc", 1, usage);
  if (read_proc < 0) return NULL;
  handle_t *h = new_handle(env, "proc connector", pc_drain);
  if (h == NULL) return NULL;
  h->src.read_proc = read_proc;
  const char *step = "", *hint = "";
  int fd = pc_open(&h->src, &step, &hint);
  return wrap_handle(env, h, fd, step, hint);
}

static napi_value open_sock_destroy(napi_env env, napi_callback_info info) {
  static const char usage[] = "openSockDestroy(options: { netnsPath?: string, tcp?: boolean })";
  napi_value options, v;
  if (!options_arg(env, info, &options, usage)) return NULL;
  int tcp = bool_option(env, options, "tcp", 0, usage);
  if (tcp < 0) return NULL;
  char path[PATH_MAX];
  const char *nspath = NULL;
  napi_valuetype t = napi_undefined;
  if (options != NULL && (napi_get_named_property(env, options, "netnsPath", &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok)) return NULL;
  if (t == napi_string) {
    size_t n = 0;
    if (napi_get_value_string_utf8(env, v, path, sizeof path, &n) != napi_ok) return NULL;
    if (n == 0 || n >= sizeof path - 1) { napi_throw_type_error(env, "EINVAL", "netnsPath: empty or too long"); return NULL; }
    nspath = path;
  } else if (t != napi_undefined && t != napi_null) {
    napi_throw_type_error(env, "EINVAL", usage);
    return NULL;
  }
  handle_t *h = new_handle(env, "sock destroy", sd_drain);
  if (h == NULL) return NULL;
  const char *step = "", *hint = "";
  int fd = sd_open(&h->src, nspath, tcp, &step, &hint);
  return wrap_handle(env, h, fd, step, hint);
}

static void delete_ctor(napi_env env, void *data, void *hint) {
  (void)hint; napi_delete_reference(env, data);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
    { "start", NULL, js_start, NULL, NULL, NULL, napi_default_method, NULL },
    { "stop", NULL, js_stop, NULL, NULL, NULL, napi_default_method, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default_method, NULL },
    { "lost", NULL, js_lost, NULL, NULL, NULL, napi_default_method, NULL },
  };
  napi_value ctor, fn;
  napi_ref ctor_ref;
  if (napi_define_class(env, "NetlinkHandle", NAPI_AUTO_LENGTH, js_construct, NULL, sizeof methods / sizeof methods[0], methods, &ctor) != napi_ok
    || napi_create_reference(env, ctor, 1, &ctor_ref) != napi_ok
    || napi_set_instance_data(env, ctor_ref, delete_ctor, NULL) != napi_ok) return NULL;
  if (napi_create_function(env, "openProcConnector", NAPI_AUTO_LENGTH, open_proc_connector, NULL, &fn) != napi_ok
    || napi_set_named_property(env, exports, "openProcConnector", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "openSockDestroy", NAPI_AUTO_LENGTH, open_sock_destroy, NULL, &fn) != napi_ok
    || napi_set_named_property(env, exports, "openSockDestroy", fn) != napi_ok) return NULL;
  return exports;
}
