import type { Transport, TransportContext } from '../types.js';
import { lazyTransport } from '../shared/lazy.js';
import type { HttpConfig } from './config.js';

/** The http output; undici and the encoders load when it starts. */
export function lazyHttpTransport(config: HttpConfig, ctx: TransportContext): Transport {
  return lazyTransport('http', async () => new (await import('./transport.js')).HttpTransport(config, ctx));
}
