/*
 * heap_control.node: asks V8 to give memory back once a burst of work is over.
 *
 * reduceMemory() -> boolean
 * A critical memory-pressure notification to the calling thread's isolate: V8 runs full garbage
 * collections right away that compact the old generation, shrink the young generation and release
 * the freed pages. V8's own memory reducer does the same after a burst, but only once it judges the
 * process idle: 15-45 s after the first scan on the bench host, during which the agent held 35 MB
 * more than it needed. false when there is no current isolate.
 *
 * This is the only part of portwarden that uses V8's C++ API (N-API has no such call), so it is a
 * separate addon, built against the headers of the node that runs it; without it V8's memory
 * reducer simply does the work later.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <v8.h>

static napi_value reduce_memory(napi_env env, napi_callback_info info) {
  (void)info;
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  napi_value result = nullptr;
  if (napi_get_boolean(env, isolate != nullptr, &result) != napi_ok) return nullptr;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "reduceMemory", NAPI_AUTO_LENGTH, reduce_memory, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "reduceMemory", fn) != napi_ok) return nullptr;
  return exports;
}
