/**
 * Looking objects up in an observed state the way kubectl users name them
 * (`po`, `pods`, `deploy/web`, `svc`), for `cox get`, `cox describe` and
 * `cox history`.
 */
import { UsageError } from '../../common/errors.ts';
import type { ObservedState } from '../model.ts';
import { pathOf, type StatusObject } from './render.ts';

export type StatusKind = 'Pod' | 'Node' | 'Service' | 'Deployment' | 'ReplicaSet' | 'ReplicationController' | 'DaemonSet';

const ALIASES: Record<string, StatusKind> = {
  po: 'Pod', pod: 'Pod', pods: 'Pod',
  no: 'Node', node: 'Node', nodes: 'Node',
  svc: 'Service', service: 'Service', services: 'Service',
  deploy: 'Deployment', deployment: 'Deployment', deployments: 'Deployment',
  rs: 'ReplicaSet', replicaset: 'ReplicaSet', replicasets: 'ReplicaSet',
  rc: 'ReplicationController', replicationcontroller: 'ReplicationController', replicationcontrollers: 'ReplicationController',
  ds: 'DaemonSet', daemonset: 'DaemonSet', daemonsets: 'DaemonSet',
};

export function resolveKind(word: string): StatusKind {
  const kind = ALIASES[word.toLowerCase().replace(/\.(apps|v1)$/, '')];
  if (!kind) throw new UsageError(`unknown resource type "${word}": expected pods, deployments, replicasets, daemonsets, replicationcontrollers, services or nodes`);
  return kind;
}

/** "deploy/web" or ["deploy", "web"] -> kind and name. */
export function parseTarget(words: string[]): { kind: StatusKind; name?: string } {
  if (words.length === 0) throw new UsageError('expected a resource type');
  const [first, second] = words;
  if (first.includes('/')) {
    const [kind, name] = first.split('/', 2);
    return { kind: resolveKind(kind), name };
  }
  return { kind: resolveKind(first), name: second };
}

/** Objects of one kind, sorted by namespace and name; `namespace` undefined means every namespace. */
export function objectsOfKind(observed: ObservedState, kind: StatusKind, namespace?: string): StatusObject[] {
  let list: StatusObject[];
  if (kind === 'Pod') list = [...observed.pods.values()];
  else if (kind === 'Node') list = [...observed.nodes.values()];
  else if (kind === 'Service') list = [...observed.services.values()];
  else list = [...observed.workloads.values()].filter((w) => w.kind === kind);
  if (kind !== 'Node' && namespace !== undefined) list = list.filter((o) => o.metadata.namespace === namespace);
  return list.sort((a, b) => cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || cmp(a.metadata.name, b.metadata.name));
}

export function statusPath(kind: StatusKind, namespace: string, name: string): string {
  if (kind === 'Node') return `nodes/${name}.yaml`;
  return pathOf({ kind, metadata: { name, namespace } } as StatusObject);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** kubectl's plain table: upper-case headers, columns separated by three spaces. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
