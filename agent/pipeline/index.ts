import { ConfigError } from '../util/errors.js';
import type { LoadedConfig } from '../../config/loader.js';
import type { OutputConfig } from '../../config/schema.js';
import { transportRegistry } from '../../transports/registry.js';
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

/** Creates each configured output's Transport via transports/registry.ts (unknown/duplicate type = ConfigError naming outputs[i].type). */
export function createTransports(loaded: LoadedConfig, ctx: Omit<TransportContext, 'name'>): PipelineOptions['outputs'] {
  return loaded.config.outputs.map((raw, i) => {
    const config: OutputConfig = raw;
    const matches = transportRegistry.filter((t) => t.type === config.type);
    const factory = matches[0];
    if (factory === undefined) {
      throw new ConfigError(loaded.file, `outputs[${i}].type`, `unknown output type "${config.type}"; expected one of ${transportRegistry.map((t) => `"${t.type}"`).join(', ')}`);
    }
    if (matches.length > 1) {
      throw new ConfigError(loaded.file, `outputs[${i}].type`, `output type "${config.type}" is registered ${matches.length} times; the registry must be unique`);
    }
    const name = loaded.outputNames[i] ?? config.type;
    return { name, config, transport: factory.create(config, { ...ctx, name }) };
  });
}
