/* Helpers the entry points of sock_diag.node share (declared in sock_diag.h). */
#define _GNU_SOURCE
#include "sock_diag.h"
#include "../common/napi_error.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sd_put_u32le(uint8_t *p, uint32_t v) {
  p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = (v >> 24) & 0xff;
}

napi_value sd_throw_errno(napi_env env, int e, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  return pw_throw_errno(env, e, what, msg);
}

napi_status sd_uint8_bytes(napi_env env, napi_value v, bool *is, const uint8_t **data, size_t *len) {
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

int sd_get_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len) {
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

int sd_u32s_push(sd_u32s_t *v, uint32_t x) {
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

int sd_bytes_put(sd_bytes_t *b, const void *p, size_t n) {
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

int sd_get_walk_args(napi_env env, size_t argc, napi_value *argv, sd_walk_args_t *a) {
  size_t len = 0;
  return argc >= 2
    && napi_get_value_string_utf8(env, argv[0], a->root, sizeof a->root, &len) == napi_ok
    && len > 0 && len < sizeof a->root - 1
    && sd_get_u32_array(env, argv[1], &a->pids, &a->npids);
}

int sd_pids_call(napi_env env, napi_callback_info info, const char *usage, sd_walk_args_t *a) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (sd_get_walk_args(env, argc, argv, a)) return 1;
  napi_throw_type_error(env, "EINVAL", usage);
  return 0;
}
