/*
 * trimMemory() and limitArenas(): glibc malloc control (no-ops returning false elsewhere);
 * sockProto(): the protocol of the socket an fd link points at, from its xattr.
 */
#define _GNU_SOURCE
#include "sock_diag.h"
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

napi_value sd_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  bool trimmed = false;
#if defined(__GLIBC__)
  malloc_trim(0);
  trimmed = true;
#endif
  napi_value result = NULL;
  if (napi_get_boolean(env, trimmed, &result) != napi_ok) return NULL;
  return result;
}

napi_value sd_limit_arenas(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, "EINVAL", "limitArenas(n: integer >= 1)");
    return NULL;
  }
  bool limited = false;
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
  limited = mallopt(M_ARENA_MAX, n) == 1;
#endif
  napi_value result = NULL;
  if (napi_get_boolean(env, limited, &result) != napi_ok) return NULL;
  return result;
}

napi_value sd_sock_proto(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char path[PATH_MAX], proto[64];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1) {
    napi_throw_type_error(env, "EINVAL", "sockProto(path: string)");
    return NULL;
  }
  ssize_t n = getxattr(path, "system.sockprotoname", proto, sizeof proto - 1);
  if (n <= 0) {
    if (napi_get_null(env, &result) != napi_ok) return NULL;
    return result;
  }
  proto[n] = '\0';
  if (napi_create_string_utf8(env, proto, strnlen(proto, (size_t)n), &result) != napi_ok) return NULL;
  return result;
}
