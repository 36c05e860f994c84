/** Windows collector: what the platform selector needs. */
export { createWindowsSource, parseDisabledTiers, type WindowsSourceOptions } from './source.js';
export { createDefaultWindowsRunner, type WindowsRunner } from './runner.js';
export type { NativeLoad, WindowsNative } from './native.js';
export { evaluateFirewall, type FirewallVerdict } from './firewall-eval.js';
