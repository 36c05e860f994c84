/** Windows collector: what the platform selector needs. */
export { createWindowsSource, type WindowsSourceOptions } from './source.js';
export { createDefaultWindowsRunner, type NativeLoad, type WindowsNative, type WindowsRunner } from './runner.js';
export { evaluateFirewall, type FirewallVerdict } from './firewall-eval.js';
