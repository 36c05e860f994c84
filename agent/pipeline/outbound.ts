import type { EcsDocument } from '../ecs/document.js';
import type { OutboundEvent } from '../../transports/types.js';

/**
 * An event read back from the spool. Both the JSON text and the document are produced only when
 * a transport asks for them (a null or byte-oriented output never pays for either), which keeps
 * the hot path cheap.
 */
export class SpooledEvent implements OutboundEvent {
  private text: string | undefined;
  private parsed: EcsDocument | undefined;

  constructor(private readonly payload: Buffer) {}

  /** The JSON's UTF-8 bytes as read from the spool (a view into the read buffer). */
  get bytes(): Buffer {
    return this.payload;
  }

  get json(): string {
    this.text ??= this.payload.toString('utf8');
    return this.text;
  }

  get doc(): EcsDocument {
    this.parsed ??= JSON.parse(this.json) as EcsDocument;
    return this.parsed;
  }
}
