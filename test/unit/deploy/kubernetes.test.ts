import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { checkConfigText } from './config-check.js';
import { readDeploy } from './content.js';

type Obj = Record<string, unknown>;
interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface Volume { name: string; hostPath?: { path: string }; configMap?: { name: string }; secret?: object; emptyDir?: object }
interface EnvVar { name: string; value?: string; valueFrom?: object }
interface Container {
  name: string; args: string[]; env: EnvVar[]; volumeMounts: Mount[];
  securityContext: { runAsUser: number; privileged: boolean; allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[]; add: string[] } };
  resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  livenessProbe: { exec: { command: string[] } };
}
interface PodSpec { hostPID: boolean; hostNetwork: boolean; dnsPolicy: string; automountServiceAccountToken: boolean; securityContext: { seccompProfile: { type: string } }; containers: Container[]; volumes: Volume[] }

function docs(file: string): Obj[] {
  return parseAllDocuments(readDeploy('kubernetes', file)).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return d.toJS() as Obj;
  });
}

const daemonSet = () => {
  const ds = docs('daemonset.yaml').find((d) => d.kind === 'DaemonSet') as { metadata: { namespace: string }; spec: { template: { spec: PodSpec } } } | undefined;
  assert.ok(ds !== undefined);
  return ds;
};
const configText = (): string => {
  const cm = docs('configmap.yaml').find((d) => d.kind === 'ConfigMap') as { data: Record<string, string> } | undefined;
  const text = cm?.data['portwarden.yml'];
  assert.ok(text !== undefined, 'ConfigMap has no portwarden.yml');
  return text;
};
const mebibytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  assert.ok(m !== null, `unexpected quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

test('the DaemonSet sees the host and keeps minimal privileges', () => {
  const ds = daemonSet();
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostPID, true);
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'hostNetwork pods need it to resolve the Kafka service');
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  const [c] = pod.containers;
  assert.ok(c !== undefined && pod.containers.length === 1);
  const sc = c.securityContext;
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.privileged, false);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  assert.deepEqual([...sc.capabilities.add].sort(), ['BPF', 'DAC_READ_SEARCH', 'NET_ADMIN', 'PERFMON', 'SYS_PTRACE']);
  const ns = docs('namespace.yaml').find((d) => d.kind === 'Namespace') as { metadata: { name: string; labels: Record<string, string> } } | undefined;
  assert.ok(ns !== undefined, 'no Namespace');
  assert.equal(ns.metadata.name, ds.metadata.namespace);
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
});

test('mounts: host /proc and config read-only, state on the node at the config\'s state_dir', () => {
  const pod = daemonSet().spec.template.spec;
  const c = pod.containers[0] as Container;
  const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
  for (const m of c.volumeMounts) assert.ok(volumes.has(m.name), `mount ${m.name} has no volume`);
  const at = (path: string) => c.volumeMounts.find((m) => m.mountPath === path);
  const proc = at('/host/proc');
  assert.equal(proc?.readOnly, true);
  assert.equal(volumes.get(proc.name)?.hostPath?.path, '/proc');
  assert.equal(at('/etc/portwarden')?.readOnly, true);
  const config = parse(configText()) as { state_dir: string; metrics: { listen: string } };
  const state = at(config.state_dir);
  assert.ok(state !== undefined && state.readOnly !== true, 'state_dir must be a writable mount');
  assert.ok(volumes.get(state.name)?.hostPath !== undefined, 'the spool must survive pod restarts');
  for (const m of c.volumeMounts) {
    if (volumes.get(m.name)?.hostPath !== undefined && m.mountPath !== config.state_dir) assert.equal(m.readOnly, true, `${m.mountPath} must be read-only`);
  }
  assert.deepEqual(c.args, ['run', '--config', '/etc/portwarden/portwarden.yml']);
  assert.ok(c.livenessProbe.exec.command.includes(`http://${config.metrics.listen}/metrics`), 'the probe must ask the configured metrics address');
});

test('resources are conservative against the < 80 MB RSS target and V8 collects before the limit', () => {
  const c = daemonSet().spec.template.spec.containers[0] as Container;
  const request = mebibytes(c.resources.requests.memory);
  const limit = mebibytes(c.resources.limits.memory);
  assert.ok(request >= 80 && limit >= 2 * 80 && limit >= request, `${request}Mi / ${limit}Mi`);
  const heap = Number(/--max-old-space-size=(\d+)/.exec(c.env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
  assert.ok(heap > 0 && heap < limit, `heap ${heap} MB vs limit ${limit}Mi`);
  assert.ok(c.resources.requests.cpu !== '' && c.resources.limits.cpu !== '');
});

test('the ConfigMap config passes check-config with the DaemonSet\'s environment', (t) => {
  const c = daemonSet().spec.template.spec.containers[0] as Container;
  const text = configText();
  const env: Record<string, string> = {};
  for (const e of c.env) env[e.name] = e.value ?? 'from-a-secret';
  for (const m of text.matchAll(/\$\{(\w+)/g)) assert.ok((m[1] ?? '') in env, `config reads \${${m[1] ?? ''}} but the DaemonSet does not set it`);
  const r = checkConfigText(text, env);
  if (r.note !== undefined) t.diagnostic(r.note);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /valid/);
  assert.doesNotMatch(r.stdout, /from-a-secret/, 'check-config must redact the Kafka password');
});
