/**
 * ObservedState <-> the files of the status branch. One YAML file per object,
 * Kubernetes-shaped (apiVersion, kind, metadata, spec, status):
 *
 *   nodes/<name>.yaml                    NodeObject (no heartbeat times)
 *   <ns>/pods/<name>.yaml                PodObject
 *   <ns>/deployments/<name>.yaml         WorkloadObject (also replicasets/, replicationcontrollers/, daemonsets/)
 *   <ns>/services/<name>.yaml            ServiceObject
 *   errors.yaml                          validation errors of a refused desired commit (only while there are any)
 *   STATUS.md                            tables per namespace and a mermaid diagram, for people
 *
 * Rendering is pure and deterministic: the same observed state gives the same
 * bytes, so an unchanged object never makes a commit.
 */
import { parse, stringify } from 'yaml';
import type { NodeObject, ObservedState, PodObject, ServiceObject, WorkloadObject } from '../model.ts';
import { emptyObserved } from '../model.ts';
import { GitError } from '../../common/errors.ts';
import {
  nodeAddress,
  nodeStatus,
  podReady,
  podRestarts,
  podStatus,
  pluralOf,
  serviceEndpoints,
  servicePorts,
  workloadReady,
} from './columns.ts';

export const STATUS_MD = 'STATUS.md';
export const ERRORS_FILE = 'errors.yaml';

export type StatusObject = NodeObject | PodObject | ServiceObject | WorkloadObject;

const WORKLOAD_PLURALS: Record<string, WorkloadObject['kind']> = {
  deployments: 'Deployment',
  replicasets: 'ReplicaSet',
  replicationcontrollers: 'ReplicationController',
  daemonsets: 'DaemonSet',
};

export function pathOf(obj: StatusObject): string {
  switch (obj.kind) {
    case 'Node':
      return `nodes/${obj.metadata.name}.yaml`;
    case 'Pod':
      return `${obj.metadata.namespace}/pods/${obj.metadata.name}.yaml`;
    case 'Service':
      return `${obj.metadata.namespace}/services/${obj.metadata.name}.yaml`;
    default:
      return `${obj.metadata.namespace}/${pluralOf(obj.kind)}/${obj.metadata.name}.yaml`;
  }
}

/** Every object of an observed state keyed by its file path. */
export function objectsByPath(observed: ObservedState): Map<string, StatusObject> {
  const out = new Map<string, StatusObject>();
  for (const node of observed.nodes.values()) out.set(pathOf(node), withoutHeartbeats(node));
  for (const pod of observed.pods.values()) out.set(pathOf(pod), pod);
  for (const service of observed.services.values()) out.set(pathOf(service), service);
  for (const workload of observed.workloads.values()) out.set(pathOf(workload), workload);
  return out;
}

/** A node as it goes to Git: heartbeat times live in memory only, they never make a commit. */
export function withoutHeartbeats(node: NodeObject): NodeObject {
  const { lastHeartbeatTime: _dropped, ...status } = node.status;
  const conditions = status.conditions?.map((c) => {
    const { lastHeartbeatTime: _hb, ...rest } = c as typeof c & { lastHeartbeatTime?: string };
    return rest;
  });
  return { ...node, status: { ...status, conditions } };
}

/** JSON with sorted keys: equal for equal content whatever the key order, so key order never makes a commit. */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  writeCanonical(value, parts);
  return parts.join('');
}

function writeCanonical(value: unknown, out: string[]): void {
  if (value === null || typeof value !== 'object') {
    out.push(value === undefined ? 'null' : JSON.stringify(value));
    return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i) out.push(',');
      writeCanonical(value[i] === undefined ? null : value[i], out);
    }
    out.push(']');
    return;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  out.push('{');
  for (let i = 0; i < keys.length; i++) {
    if (i) out.push(',');
    out.push(JSON.stringify(keys[i]), ':');
    writeCanonical(obj[keys[i]], out);
  }
  out.push('}');
}

const TOP_LEVEL_ORDER = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

export function renderObject(obj: StatusObject): string {
  const ordered: Record<string, unknown> = {};
  for (const key of TOP_LEVEL_ORDER) if ((obj as unknown as Record<string, unknown>)[key] !== undefined) ordered[key] = (obj as unknown as Record<string, unknown>)[key];
  for (const [key, value] of Object.entries(obj)) if (!(key in ordered) && value !== undefined) ordered[key] = value;
  return stringify(ordered, { lineWidth: 0 });
}

export function renderErrors(errors: ObservedState['errors'], refusedCommit?: string): string | undefined {
  if (errors.length === 0) return undefined;
  return stringify({ refusedCommit, errors: errors.map((e) => ({ file: e.file, line: e.line, column: e.column, message: e.message })) }, { lineWidth: 0 });
}

/** Parses the files of a status tree back into an ObservedState. Unknown paths are ignored; a broken file names itself. */
export function parseStatusFiles(files: Iterable<[string, string]>): ObservedState & { refusedCommit?: string } {
  const observed: ObservedState & { refusedCommit?: string } = emptyObserved();
  for (const [file, text] of files) {
    if (file === STATUS_MD) continue;
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      throw new GitError(`status file ${file}: ${err instanceof Error ? err.message : String(err)}`, { file }, { cause: err });
    }
    if (file === ERRORS_FILE) {
      const e = doc as { refusedCommit?: string; errors?: ObservedState['errors'] };
      observed.errors = e.errors ?? [];
      if (e.refusedCommit) observed.refusedCommit = e.refusedCommit;
      continue;
    }
    const parts = file.split('/');
    if (parts.length === 2 && parts[0] === 'nodes') {
      const node = doc as NodeObject;
      observed.nodes.set(node.metadata.name, node);
    } else if (parts.length === 3 && parts[1] === 'pods') {
      const pod = doc as PodObject;
      observed.pods.set(pod.metadata.uid, pod);
    } else if (parts.length === 3 && parts[1] === 'services') {
      const svc = doc as ServiceObject;
      observed.services.set(`${svc.metadata.namespace}/${svc.metadata.name}`, svc);
    } else if (parts.length === 3 && WORKLOAD_PLURALS[parts[1]]) {
      const w = doc as WorkloadObject;
      observed.workloads.set(`${w.kind}/${w.metadata.namespace}/${w.metadata.name}`, w);
    }
  }
  return observed;
}

// ---- STATUS.md ----------------------------------------------------------------

const MERMAID_POD_LIMIT = 300;

function table(header: string[], rows: string[][]): string {
  const esc = (cell: string) => cell.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function mermaidId(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The human page GitHub renders at the top of the status branch. No times: it changes only when the state does. */
export function renderStatusMarkdown(observed: ObservedState): string {
  const out: string[] = ['# Cluster status', ''];
  out.push(observed.appliedCommit ? `Reconciling desired commit \`${observed.appliedCommit}\`.` : 'No desired commit applied yet.', '');
  if (observed.errors.length > 0) {
    out.push('## Refused desired commit', '', 'The newest desired commit does not validate; the last valid commit is still applied.', '');
    out.push(table(['FILE', 'LINE', 'COLUMN', 'ERROR'], observed.errors.map((e) => [e.file, String(e.line), String(e.column), e.message])), '');
  }
  const nodes = [...observed.nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const pods = [...observed.pods.values()].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  out.push('## Nodes', '');
  out.push(
    table(
      ['NAME', 'STATUS', 'ADDRESS', 'PODS'],
      nodes.map((n) => [n.metadata.name, nodeStatus(n), nodeAddress(n), String(pods.filter((p) => p.spec?.nodeName === n.metadata.name).length)]),
    ),
    '',
  );
  if (pods.length > 0 && pods.length <= MERMAID_POD_LIMIT) {
    out.push('```mermaid', 'flowchart LR');
    const byNode = new Map<string, PodObject[]>();
    for (const pod of pods) {
      const key = pod.spec?.nodeName ?? '';
      byNode.set(key, [...(byNode.get(key) ?? []), pod]);
    }
    const nodeNames = [...new Set([...nodes.map((n) => n.metadata.name), ...[...byNode.keys()].filter((k) => k)])].sort();
    for (const name of nodeNames) {
      const node = observed.nodes.get(name);
      out.push(`  subgraph ${mermaidId('node', name)}["${name} (${node ? nodeStatus(node) : 'unknown'})"]`);
      for (const pod of byNode.get(name) ?? []) out.push(`    ${mermaidId('pod', `${pod.metadata.namespace}/${pod.metadata.name}`)}["${pod.metadata.namespace}/${pod.metadata.name}: ${podStatus(pod)}"]`);
      out.push('  end');
    }
    const unbound = byNode.get('') ?? [];
    if (unbound.length > 0) {
      out.push(`  subgraph unscheduled["unscheduled"]`);
      for (const pod of unbound) out.push(`    ${mermaidId('pod', `${pod.metadata.namespace}/${pod.metadata.name}`)}["${pod.metadata.namespace}/${pod.metadata.name}: ${podStatus(pod)}"]`);
      out.push('  end');
    }
    out.push('```', '');
  } else if (pods.length > MERMAID_POD_LIMIT) {
    out.push(`(${pods.length} pods: too many for a diagram.)`, '');
  }
  const namespaces = new Set<string>([
    ...pods.map((p) => p.metadata.namespace),
    ...[...observed.services.values()].map((s) => s.metadata.namespace),
    ...[...observed.workloads.values()].map((w) => w.metadata.namespace),
  ]);
  for (const ns of [...namespaces].sort()) {
    out.push(`## Namespace ${ns}`, '');
    const workloads = [...observed.workloads.values()].filter((w) => w.metadata.namespace === ns).sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    if (workloads.length > 0) {
      out.push('### Workloads', '', table(['KIND', 'NAME', 'READY'], workloads.map((w) => [w.kind, w.metadata.name, workloadReady(w)])), '');
    }
    const nsPods = pods.filter((p) => p.metadata.namespace === ns);
    if (nsPods.length > 0) {
      out.push(
        '### Pods',
        '',
        table(
          ['NAME', 'READY', 'STATUS', 'RESTARTS', 'NODE', 'IP'],
          nsPods.map((p) => [p.metadata.name, podReady(p), podStatus(p), String(podRestarts(p)), p.spec?.nodeName ?? '<none>', p.status?.podIP ?? '<none>']),
        ),
        '',
      );
    }
    const services = [...observed.services.values()].filter((s) => s.metadata.namespace === ns).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    if (services.length > 0) {
      out.push(
        '### Services',
        '',
        table(
          ['NAME', 'TYPE', 'CLUSTER-IP', 'PORTS', 'ENDPOINTS'],
          services.map((s) => [s.metadata.name, s.spec.type, s.spec.clusterIP, servicePorts(s), serviceEndpoints(s).join(', ') || '<none>']),
        ),
        '',
      );
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

export { WORKLOAD_PLURALS };
