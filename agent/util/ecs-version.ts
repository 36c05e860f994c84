/**
 * The ECS version of everything the agent writes: its events (agent/ecs/fields.ts re-exports it)
 * and its own log lines (agent/log, a lower layer than agent/ecs).
 */
export const ECS_VERSION = '9.4.0';
