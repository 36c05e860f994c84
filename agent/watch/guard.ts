import type { EcsDocument } from '../ecs/document.js';

/**
 * Detection never ends a poll or the agent: a rule that throws yields no alerts for that document,
 * and `onError` hears of it (the watcher counts it in its aggregated warnings).
 */
export function guardDetect(
  detect: ((doc: EcsDocument) => EcsDocument[]) | undefined,
  onError: (err: unknown) => void,
): (doc: EcsDocument) => EcsDocument[] {
  if (detect === undefined) return () => [];
  return (doc) => {
    try {
      return detect(doc);
    } catch (err) {
      onError(err);
      return [];
    }
  };
}
