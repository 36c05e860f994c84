/** Topic templates, shared by the config schema (validation) and the encoder (expansion). */

/** `{event.dataset}`: a dotted ECS path whose value is put into the topic name. */
export const PLACEHOLDER = /\{([A-Za-z0-9_@.]+)\}/g;
