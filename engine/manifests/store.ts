import type {
  Cluster, ConfigMap, DaemonSet, Deployment, Namespace, Node, Pod, ReplicaSet, ReplicationController, Secret, Service,
} from '../../schemas/types.generated.ts';
import { KINDS, type KindName } from './kinds.ts';
import type { ManifestObject } from './types.ts';

/** The type of each kind's objects as loaded (validated, defaulted). */
export interface KindTypes {
  Pod: Pod;
  Deployment: Deployment;
  ReplicaSet: ReplicaSet;
  ReplicationController: ReplicationController;
  DaemonSet: DaemonSet;
  Service: Service;
  ConfigMap: ConfigMap;
  Secret: Secret;
  Namespace: Namespace;
  Node: Node;
  Cluster: Cluster;
}

/**
 * The desired objects of one commit, keyed by kind/namespace/name. Listing
 * order is fixed (namespace, then name), so everything computed from a store
 * is deterministic. When the same key appears twice the first one read wins
 * (loadManifests reports the second as an error).
 */
export class ObjectStore {
  private readonly byKey = new Map<string, ManifestObject>();
  private readonly byKind = new Map<string, ManifestObject[]>();

  constructor(objects: Iterable<ManifestObject>, readonly cluster: Cluster) {
    for (const object of objects) {
      const key = keyOf(object.kind, object.metadata.namespace, object.metadata.name);
      if (this.byKey.has(key)) continue;
      this.byKey.set(key, object);
      let list = this.byKind.get(object.kind);
      if (!list) this.byKind.set(object.kind, (list = []));
      list.push(object);
    }
    for (const list of this.byKind.values()) list.sort(compareObjects);
  }

  get<K extends KindName>(kind: K, namespace: string | undefined, name: string): KindTypes[K] | undefined {
    return this.byKey.get(keyOf(kind, KINDS[kind].namespaced ? namespace : undefined, name)) as KindTypes[K] | undefined;
  }

  /** Every object of a kind, in one namespace or all. */
  list<K extends KindName>(kind: K, namespace?: string): Array<KindTypes[K]> {
    const all = (this.byKind.get(kind) ?? []) as unknown as Array<KindTypes[K]>;
    return namespace === undefined ? all : all.filter((object) => object.metadata.namespace === namespace);
  }

  /** Every object, ordered by kind, namespace and name. */
  all(): ManifestObject[] {
    return [...this.byKind.keys()].sort().flatMap((kind) => this.byKind.get(kind) ?? []);
  }

  /** Namespaces in use: declared by a Namespace object or used by any namespaced object. */
  namespaces(): string[] {
    const names = new Set<string>(this.list('Namespace').map((ns) => ns.metadata.name));
    for (const object of this.byKey.values()) if (object.metadata.namespace) names.add(object.metadata.namespace);
    return [...names].sort();
  }

  get size(): number {
    return this.byKey.size;
  }
}

export function keyOf(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function compareObjects(a: ManifestObject, b: ManifestObject): number {
  return compareStrings(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || compareStrings(a.metadata.name, b.metadata.name);
}

/** Code-point order: the same on every machine, whatever its locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
