/*
 * What the files of sock_diag.node share: the N-API entry points each file defines (addon.c
 * registers them; the JS API they make up is documented there) and the helpers they have in common
 * (util.c): errno errors thrown into JS, growable buffers, typed-array and (procRoot, pids)
 * arguments.
 *   dump.c      dump, connections: NETLINK_SOCK_DIAG dumps of listening sockets and of established
 *               TCP connections, optionally in another netns
 *   proc_walk.c holders, basics, starts: the walks over /proc/<pid>
 *   malloc.c    trimMemory, limitArenas (glibc malloc control) and sockProto (an fd's socket protocol)
 */
#ifndef PORTWARDEN_SOCK_DIAG_H
#define PORTWARDEN_SOCK_DIAG_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* The entry points, one per JS function. */
napi_value sd_dump(napi_env env, napi_callback_info info);
napi_value sd_connections(napi_env env, napi_callback_info info);
napi_value sd_holders(napi_env env, napi_callback_info info);
napi_value sd_basics(napi_env env, napi_callback_info info);
napi_value sd_starts(napi_env env, napi_callback_info info);
napi_value sd_trim_memory(napi_env env, napi_callback_info info);
napi_value sd_limit_arenas(napi_env env, napi_callback_info info);
napi_value sd_sock_proto(napi_env env, napi_callback_info info);

void sd_put_u32le(uint8_t *p, uint32_t v);

/* Throws Error(message) with `code` (errno name) and `syscall` (the failed step, e.g. "setns(netns)"); returns NULL. */
napi_value sd_throw_errno(napi_env env, int e, const char *what);

/* Whether v is a Uint8Array (Buffer included), and its bytes (data may be NULL when it is empty). */
napi_status sd_uint8_bytes(napi_env env, napi_value v, bool *is, const uint8_t **data, size_t *len);

/* Whether v is a Uint32Array, and its elements. */
int sd_get_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len);

typedef struct { uint32_t *data; size_t len, cap; } sd_u32s_t;
/* Appends x; 0 or ENOMEM. */
int sd_u32s_push(sd_u32s_t *v, uint32_t x);

typedef struct { uint8_t *data; size_t len, cap; } sd_bytes_t;
/* Appends n bytes; 0 or ENOMEM. */
int sd_bytes_put(sd_bytes_t *b, const void *p, size_t n);

/* The arguments every /proc walker takes: (procRoot: string, pids: Uint32Array, ...). */
typedef struct { char root[PATH_MAX - 64]; uint32_t *pids; size_t npids; } sd_walk_args_t;
int sd_get_walk_args(napi_env env, size_t argc, napi_value *argv, sd_walk_args_t *a);
/* The arguments of a (procRoot, pids) walker; false (with a TypeError thrown) when they are not that. */
int sd_pids_call(napi_env env, napi_callback_info info, const char *usage, sd_walk_args_t *a);

#endif
