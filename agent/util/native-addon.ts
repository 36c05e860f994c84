/** Our optional native addons (dist/native/*.node, built by scripts/build-native.mjs). */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The addon's exports; undefined when it was not built, is for another ABI, or fails to load. */
export function loadNativeAddon(file: URL | string): Partial<Record<string, unknown>> | undefined {
  try {
    const mod: unknown = require(typeof file === 'string' ? file : fileURLToPath(file));
    return mod !== null && typeof mod === 'object' ? mod : undefined;
  } catch {
    return undefined;
  }
}
