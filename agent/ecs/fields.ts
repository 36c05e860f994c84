/**
 * Every ECS field path, dataset, kind and action that portwarden reads or writes by name.
 * Nothing else in the tree spells these strings: import them from here.
 */
export { ECS_VERSION } from '../util/ecs-version.js';
export const MODULE = 'portwarden';

export const Dataset = {
  network: 'portwarden.network',
  process: 'portwarden.process',
  alerts: 'portwarden.alerts',
  agent: 'portwarden.agent',
} as const;
export type Dataset = (typeof Dataset)[keyof typeof Dataset];

export const Kind = {
  event: 'event',
  state: 'state',
  alert: 'alert',
  metric: 'metric',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const Action = {
  listeningStarted: 'listening_started',
  listeningStopped: 'listening_stopped',
  listeningExisting: 'listening_existing',
  processStart: 'start',
  processExec: 'exec',
  processEnd: 'end',
  alreadyRunning: 'already_running',
  connectionAttempted: 'connection_attempted',
  unusualListener: 'unusual_listener',
  unusualParentChild: 'unusual_parent_child',
  suspiciousConnection: 'suspicious_connection',
  heartbeat: 'heartbeat',
  agentStarted: 'started',
  agentStopped: 'stopped',
  eventsLost: 'events_lost',
  outputPaused: 'output_paused',
  outputResumed: 'output_resumed',
  collectorDegraded: 'collector_degraded',
  eventsDropped: 'events_dropped',
  spoolDegraded: 'spool_degraded',
  spoolResumed: 'spool_resumed',
  configReloaded: 'config_reloaded',
  configReloadFailed: 'config_reload_failed',
  policyApplied: 'policy_applied',
  policyRefused: 'policy_refused',
  policyUnreachable: 'policy_unreachable',
} as const;
export type Action = (typeof Action)[keyof typeof Action];

/** Dotted paths, for code that reads documents generically (rules, syslog SD, CEF, Splunk). */
export const F = {
  timestamp: '@timestamp',
  message: 'message',
  eventId: 'event.id',
  eventKind: 'event.kind',
  eventAction: 'event.action',
  eventDataset: 'event.dataset',
  eventCategory: 'event.category',
  eventType: 'event.type',
  eventSeverity: 'event.severity',
  eventRiskScore: 'event.risk_score',
  eventReason: 'event.reason',
  eventSequence: 'event.sequence',
  eventCreated: 'event.created',
  eventStart: 'event.start',
  eventEnd: 'event.end',
  eventDuration: 'event.duration',
  hostId: 'host.id',
  hostName: 'host.name',
  hostHostname: 'host.hostname',
  hostOsType: 'host.os.type',
  hostIp: 'host.ip',
  agentId: 'agent.id',
  agentVersion: 'agent.version',
  destinationIp: 'destination.ip',
  destinationPort: 'destination.port',
  destinationAddress: 'destination.address',
  serverIp: 'server.ip',
  serverPort: 'server.port',
  networkTransport: 'network.transport',
  networkType: 'network.type',
  networkIanaNumber: 'network.iana_number',
  processPid: 'process.pid',
  processEntityId: 'process.entity_id',
  processName: 'process.name',
  processExecutable: 'process.executable',
  processCommandLine: 'process.command_line',
  processArgs: 'process.args',
  processStart: 'process.start',
  processWorkingDirectory: 'process.working_directory',
  processParentPid: 'process.parent.pid',
  processParentEntityId: 'process.parent.entity_id',
  processParentName: 'process.parent.name',
  processParentExecutable: 'process.parent.executable',
  processParentCommandLine: 'process.parent.command_line',
  processAncestry: 'process.Ext.ancestry',
  processUserName: 'process.user.name',
  processUserId: 'process.user.id',
  processRealUserId: 'process.real_user.id',
  processParentUserName: 'process.parent.user.name',
  userId: 'user.id',
  userName: 'user.name',
  userDomain: 'user.domain',
  ruleId: 'rule.id',
  ruleName: 'rule.name',
  threatTechniqueId: 'threat.technique.id',
  containerId: 'container.id',
  listenerScope: 'portwarden.listener.scope',
  listenerNetns: 'portwarden.listener.netns',
  listenerOwners: 'portwarden.listener.owners',
  listenerFirewall: 'portwarden.listener.firewall',
  lineage: 'portwarden.lineage',
  alertTriggerEventId: 'portwarden.alert.trigger_event_id',
} as const;
export type FieldPath = (typeof F)[keyof typeof F];
