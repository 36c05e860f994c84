/** MITRE ATT&CK names for the ids the built-in rules use; user rules may name others. */
export const TACTICS: Readonly<Record<string, string>> = {
  TA0001: 'Initial Access',
  TA0002: 'Execution',
  TA0003: 'Persistence',
  TA0004: 'Privilege Escalation',
  TA0005: 'Defense Evasion',
  TA0006: 'Credential Access',
  TA0007: 'Discovery',
  TA0008: 'Lateral Movement',
  TA0009: 'Collection',
  TA0010: 'Exfiltration',
  TA0011: 'Command and Control',
  TA0040: 'Impact',
  TA0042: 'Resource Development',
  TA0043: 'Reconnaissance',
};

export const TECHNIQUES: Readonly<Record<string, string>> = {
  T1021: 'Remote Services',
  'T1021.001': 'Remote Desktop Protocol',
  'T1021.002': 'SMB/Windows Admin Shares',
  'T1021.003': 'Distributed Component Object Model',
  'T1021.004': 'SSH',
  'T1021.005': 'VNC',
  'T1021.006': 'Windows Remote Management',
  T1036: 'Masquerading',
  'T1036.005': 'Match Legitimate Name or Location',
  T1047: 'Windows Management Instrumentation',
  T1055: 'Process Injection',
  'T1055.012': 'Process Hollowing',
  T1059: 'Command and Scripting Interpreter',
  'T1059.001': 'PowerShell',
  'T1059.003': 'Windows Command Shell',
  'T1059.004': 'Unix Shell',
  'T1059.005': 'Visual Basic',
  'T1059.006': 'Python',
  'T1059.007': 'JavaScript',
  T1068: 'Exploitation for Privilege Escalation',
  T1095: 'Non-Application Layer Protocol',
  T1133: 'External Remote Services',
  T1134: 'Access Token Manipulation',
  'T1134.001': 'Token Impersonation/Theft',
  'T1134.002': 'Create Process with Token',
  'T1134.004': 'Parent PID Spoofing',
  T1190: 'Exploit Public-Facing Application',
  T1203: 'Exploitation for Client Execution',
  T1204: 'User Execution',
  'T1204.002': 'Malicious File',
  T1218: 'System Binary Proxy Execution',
  'T1218.005': 'Mshta',
  'T1218.007': 'Msiexec',
  'T1218.011': 'Rundll32',
  T1505: 'Server Software Component',
  'T1505.001': 'SQL Stored Procedures',
  T1098: 'Account Manipulation',
  'T1098.004': 'SSH Authorized Keys',
  T1564: 'Hide Artifacts',
  'T1564.003': 'Hidden Window',
  'T1036.004': 'Masquerade Task or Service',
  'T1505.003': 'Web Shell',
  T1543: 'Create or Modify System Process',
  'T1543.003': 'Windows Service',
  T1546: 'Event Triggered Execution',
  'T1546.008': 'Accessibility Features',
  T1547: 'Boot or Logon Autostart Execution',
  'T1547.001': 'Registry Run Keys / Startup Folder',
  T1569: 'System Services',
  'T1569.002': 'Service Execution',
  T1571: 'Non-Standard Port',
  T1572: 'Protocol Tunneling',
  T1574: 'Hijack Execution Flow',
  'T1574.001': 'DLL Search Order Hijacking',
  'T1574.009': 'Path Interception by Unquoted Path',
  T1566: 'Phishing',
  'T1566.001': 'Spearphishing Attachment',
  T1620: 'Reflective Code Loading',
  T1014: 'Rootkit',
  T1027: 'Obfuscated Files or Information',
  T1049: 'System Network Connections Discovery',
  T1082: 'System Information Discovery',
  T1033: 'System Owner/User Discovery',
  T1210: 'Exploitation of Remote Services',
  T1219: 'Remote Access Software',
  T1610: 'Deploy Container',
  T1552: 'Unsecured Credentials',
  T1078: 'Valid Accounts',
  T1090: 'Proxy',
  T1548: 'Abuse Elevation Control Mechanism',
  'T1548.003': 'Sudo and Sudo Caching',
};

export interface AttackRef {
  id: string;
  name: string;
  reference: string;
}

export interface ThreatRefs {
  tactic: AttackRef;
  technique: AttackRef;
  subtechnique?: AttackRef;
}

export const TACTIC_RE = /^TA\d{4}$/;
export const TECHNIQUE_RE = /^T\d{4}(\.\d{3})?$/;

/** Builds the ECS `threat.*` references from ids (names from the table, or the given ones). */
export function threatRefs(tacticId: string, techniqueId: string, names: { tactic?: string | undefined; technique?: string | undefined } = {}): ThreatRefs {
  const tactic = { id: tacticId, name: names.tactic ?? TACTICS[tacticId] ?? tacticId, reference: `https://attack.mitre.org/tactics/${tacticId}/` };
  const [parentId = techniqueId, sub] = techniqueId.split('.');
  const technique = { id: parentId, name: TECHNIQUES[parentId] ?? (sub === undefined ? names.technique : undefined) ?? parentId, reference: `https://attack.mitre.org/techniques/${parentId}/` };
  if (sub === undefined) return { tactic, technique };
  return {
    tactic,
    technique,
    subtechnique: { id: techniqueId, name: names.technique ?? TECHNIQUES[techniqueId] ?? techniqueId, reference: `https://attack.mitre.org/techniques/${parentId}/${sub}/` },
  };
}
