/**
 * Every long-lived component follows this lifecycle. `shutdown()` is idempotent, safe before
 * `start()`, bounded in time, and never acknowledges work that did not complete.
 */
export interface Lifecycle {
  start(): Promise<void>;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}
