import { DeliveryPipeline } from './pipeline.js';
import type { PipelineOptions } from './pipeline.js';
import type { Pipeline } from './types.js';

export type { PipelineOptions } from './pipeline.js';
export type { Pipeline, PipelineStats, OutputStats, EventSink } from './types.js';
export { DeliveryPipeline } from './pipeline.js';
export { renderPrometheus } from './metrics.js';

/** Creates the delivery pipeline; `start()` recovers the spool and starts every output. */
export function createPipeline(opts: PipelineOptions): Pipeline {
  return new DeliveryPipeline(opts);
}
