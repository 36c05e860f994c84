import type { EcsDocument } from '../../agent/ecs/document.js';
import type { EncodeContext } from './encoder-common.js';
import { bsdHeader } from './encoder-common.js';

/**
 * RFC 3164 (BSD syslog) for legacy relays: `<PRI>Mmm dd hh:mm:ss HOST TAG[pid]: MSG`, local time,
 * TAG = app_name cut to 32 alphanumeric chars, MSG = the ECS JSON document. The RFC's 1024-byte
 * total is not enforced here (`max_message_bytes` is): relays that enforce it cut the JSON.
 */
export function encodeRfc3164(ctx: EncodeContext, doc: EcsDocument, json: string): string {
  const tag = ctx.appName.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32) || 'portwarden';
  return `${bsdHeader(ctx, doc)}${tag}[${ctx.procId}]: ${json}`;
}
