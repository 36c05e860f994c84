/*
 * Errors thrown to JavaScript by the addons: Error(message) with `code` (the errno name) and
 * `syscall` (the failed step, e.g. "setns(netns)"), the shape Node's own system errors have, so the
 * TypeScript side tells EPERM from ENOENT without parsing messages.
 */
#ifndef PORTWARDEN_NAPI_ERROR_H
#define PORTWARDEN_NAPI_ERROR_H

#include <node_api.h>
#include "errno_name.h"

/* The Error object, or NULL when even creating it failed. */
static inline napi_value pw_errno_error(napi_env env, int e, const char *step, const char *msg) {
  napi_value code, text, sys, err;
  if (napi_create_string_utf8(env, pw_errno_name(e), NAPI_AUTO_LENGTH, &code) != napi_ok
      || napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok
      || napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &sys) != napi_ok
      || napi_create_error(env, code, text, &err) != napi_ok
      || napi_set_named_property(env, err, "syscall", sys) != napi_ok) return NULL;
  return err;
}

/* Throws that Error (a plain one with the code when it cannot be built); returns NULL. */
static inline napi_value pw_throw_errno(napi_env env, int e, const char *step, const char *msg) {
  napi_value err = pw_errno_error(env, e, step, msg);
  if (err != NULL) napi_throw(env, err);
  else napi_throw_error(env, pw_errno_name(e), msg);
  return NULL;
}

#endif
