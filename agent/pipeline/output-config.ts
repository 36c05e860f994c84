/**
 * One configured output after validation, as the pipeline sees it (its batching and retries). Each
 * transport validates its own keys (transports/<type>/index.ts); the whole schema is assembled in
 * agent/app/config-schema.ts. Plain data, no zod: the running agent's delivery code imports it.
 */
export interface OutputConfig {
  type: string;
  name?: string | undefined;
  batch: { max_events: number; max_bytes: number; max_wait: number; linger: number };
  retry: { initial: number; max: number; breaker_threshold: number };
  [key: string]: unknown;
}
