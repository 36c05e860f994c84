import type { OutputConfig } from '../pipeline/output-config.js';
import { transportRegistry } from '../../transports/registry.js';
import type { TransportContext } from '../../transports/types.js';
import type { PipelineOptions } from '../pipeline/index.js';
import { ConfigError } from '../util/errors.js';
import type { LoadedConfig } from './config.js';

/**
 * Builds each configured output (or those named in `only`) from the transport registry, loading
 * only the types in use. An unknown type is a ConfigError naming `outputs[i].type`.
 */
export async function createOutputs(loaded: LoadedConfig, ctx: Omit<TransportContext, 'name'>, only?: readonly string[]): Promise<PipelineOptions['outputs']> {
  const picked = loaded.config.outputs.map((raw, i) => [raw, i] as const)
    .filter(([raw, i]) => only === undefined || only.includes(loaded.outputNames[i] ?? raw.type));
  return Promise.all(picked.map(async ([raw, i]) => {
    const config: OutputConfig = raw;
    if (!transportRegistry.has(config.type)) {
      throw new ConfigError(loaded.file, `outputs[${i}].type`, `unknown output type "${config.type}"; expected ${transportRegistry.expected()}`);
    }
    const create = await transportRegistry.get(config.type);
    const name = loaded.outputNames[i] ?? config.type;
    return { name, config, transport: create(config as never, { ...ctx, name }) };
  }));
}
