import { transportRegistry } from './registry.js';
import type { TransportSpec } from './types.js';

/**
 * The spec (config schema, summary) of every registered output type, in registry order, read from
 * `transports/<type>/index.ts`. Loads zod: for validation (the start-up worker, one-shot commands)
 * and the docs, never for the running agent.
 */
export async function transportSpecs(): Promise<TransportSpec[]> {
  return Promise.all(transportRegistry.names().map(async (type) => {
    const mod = await import(`./${type}/index.js`) as { spec?: TransportSpec };
    if (mod.spec?.type !== type) throw new Error(`transports/${type}/index.ts must export the spec of type "${type}"`);
    return mod.spec;
  }));
}
