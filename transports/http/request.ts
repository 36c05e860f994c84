import type { HttpConfig } from './config.js';

/** Whether request bodies are gzipped once defaults are applied. */
export function gzipEnabled(c: HttpConfig): boolean {
  return c.gzip ?? c.format !== 'ndjson';
}

/**
 * The Authorization header for the configured credentials, or undefined. The value holds a
 * secret: it goes into request headers only, never into logs or results.
 */
export function authorizationHeader(c: HttpConfig): string | undefined {
  if (c.format === 'splunk_hec' && c.token !== undefined) return `Splunk ${c.token}`;
  if (c.api_key !== undefined) return `ApiKey ${c.api_key}`;
  if (c.username !== undefined) {
    return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  if (c.token !== undefined) return `Bearer ${c.token}`;
  return undefined;
}

/** Content type of each format's request body. */
export function contentType(c: HttpConfig): string {
  switch (c.format) {
    case 'elasticsearch':
      return 'application/x-ndjson';
    case 'splunk_hec':
      return 'application/json';
    case 'ndjson':
      return 'application/x-ndjson';
  }
}
