import type { EcsDocument } from '../ecs/document.js';

/**
 * Detection never ends a poll or the agent: a rule that throws yields no alerts for that document,
 * and `onError` hears of it (the watcher counts it in its aggregated warnings). `current` is asked
 * per document: a reload may switch detection on or off.
 */
export function guardDetect(
  current: () => ((doc: EcsDocument) => EcsDocument[]) | undefined,
  onError: (err: unknown) => void,
): (doc: EcsDocument) => EcsDocument[] {
  return (doc) => {
    const detect = current();
    if (detect === undefined) return [];
    try {
      return detect(doc);
    } catch (err) {
      onError(err);
      return [];
    }
  };
}
