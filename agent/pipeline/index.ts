import { ConfigError } from '../util/errors.js';
import type { LoadedConfig } from '../../config/loader.js';
import type { OutputConfig } from '../../config/schema.js';
import { transportCreators } from '../../transports/runtime.js';
import type { TransportCreate } from '../../transports/runtime.js';
import type { TransportContext } from '../../transports/types.js';
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

/** Creates each configured output's Transport via transports/runtime.ts (an unknown type is a ConfigError naming outputs[i].type). */
export function createTransports(loaded: LoadedConfig, ctx: Omit<TransportContext, 'name'>): PipelineOptions['outputs'] {
  return loaded.config.outputs.map((raw, i) => {
    const config: OutputConfig = raw;
    const creators: Readonly<Record<string, TransportCreate>> = transportCreators;
    const create = Object.hasOwn(creators, config.type) ? creators[config.type] : undefined;
    if (create === undefined) {
      const known = Object.keys(transportCreators).map((t) => `"${t}"`).join(', ');
      throw new ConfigError(loaded.file, `outputs[${i}].type`, `unknown output type "${config.type}"; expected one of ${known}`);
    }
    const name = loaded.outputNames[i] ?? config.type;
    return { name, config, transport: create(config as never, { ...ctx, name }) };
  });
}
