import type { EcsDocument } from '../ecs/document.js';
import type { OutboundEvent } from '../../transports/types.js';

/**
 * An event read back from the spool. The JSON text is what was appended; the document is parsed
 * only if a transport asks for it (file and stdout outputs never do), which keeps the hot path cheap.
 */
export class SpooledEvent implements OutboundEvent {
  private parsed: EcsDocument | undefined;

  constructor(readonly json: string) {}

  get doc(): EcsDocument {
    this.parsed ??= JSON.parse(this.json) as EcsDocument;
    return this.parsed;
  }
}
