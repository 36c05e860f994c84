import { Registry } from '../util/registry.js';
import type { Baseline } from './baseline.js';
import { NewListenerDetector, RarePairDetector } from './baseline-detectors.js';
import type { DetectConfig } from './config.js';
import { ListenerSpawnedShell } from './listener-child-detector.js';
import { listenerDetectors } from './listener-detectors.js';
import { ListenerRelay } from './relay-detector.js';
import { catalogueFrom, SUSPICIOUS_PORTS } from './port-catalogue.js';
import type { Detector } from './types.js';

/** What the detectors are made from. */
export interface DetectorSetup {
  config: DetectConfig;
  /** Learned baseline; undefined switches baseline detection off. */
  baseline: Baseline | undefined;
  /** The rule files' detectors (built-in packs and configured files). */
  rules: readonly Detector[];
}

/**
 * Every source of detectors, one line each, in the order the engine runs them (and so the order of
 * the alerts one event raises). A new detector is one file and one line here.
 */
export const detectorRegistry = new Registry<(s: DetectorSetup) => readonly Detector[]>('detector family', {
  listeners: () => (s) => listenerDetectors(catalogueFrom(s.config.sensitive_ports), s.config.suspicious_ports ?? SUSPICIOUS_PORTS),
  rules: () => (s) => s.rules,
  correlations: () => () => [new ListenerSpawnedShell(), new ListenerRelay()],
  baseline: () => (s) => (s.baseline === undefined ? [] : [new NewListenerDetector(s.baseline), new RarePairDetector(s.baseline)]),
});

/** Every detector of every family, in registry order. */
export function allDetectors(setup: DetectorSetup): Detector[] {
  return detectorRegistry.all().flatMap((make) => make(setup));
}
