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
 * (loadManifests reports the second as an error). A store never changes;
 * `with` makes the next one, sharing the kinds it did not touch.
 */
export class ObjectStore {
  private kinds = new Map<string, KindIndex>();
  private count = 0;

  constructor(objects: Iterable<ManifestObject>, readonly cluster: Cluster) {
    for (const object of objects) {
      const key = keyOf(object.kind, object.metadata.namespace, object.metadata.name);
      let index = this.kinds.get(object.kind);
      if (!index) this.kinds.set(object.kind, (index = { byKey: new Map(), list: [] }));
      if (index.byKey.has(key)) continue;
      index.byKey.set(key, object);
      index.list.push(object);
      this.count++;
    }
    for (const index of this.kinds.values()) index.list.sort(compareObjects);
  }

  /**
   * This store with each change's key set to its object, or removed where the
   * object is undefined, and `cluster` as its Cluster. This store stays as it was.
   */
  with(changes: Iterable<StoreChange>, cluster: Cluster): ObjectStore {
    const next = new ObjectStore([], cluster);
    next.kinds = new Map(this.kinds);
    next.count = this.count;
    const copied = new Set<string>();
    for (const { kind, namespace, name, object } of changes) {
      let index = next.kinds.get(kind);
      if (!copied.has(kind)) {
        index = { byKey: new Map(index?.byKey), list: [...(index?.list ?? [])] };
        next.kinds.set(kind, index);
        copied.add(kind);
      }
      const { byKey, list } = index!;
      const key = keyOf(kind, namespace, name);
      const at = searchObjects(list, namespace ?? '', name);
      const present = byKey.has(key);
      if (object) {
        byKey.set(key, object);
        list.splice(at, present ? 1 : 0, object);
        if (!present) next.count++;
      } else if (present) {
        byKey.delete(key);
        list.splice(at, 1);
        next.count--;
      }
    }
    for (const kind of copied) if (next.kinds.get(kind)!.list.length === 0) next.kinds.delete(kind);
    return next;
  }

  get<K extends KindName>(kind: K, namespace: string | undefined, name: string): KindTypes[K] | undefined {
    return this.kinds.get(kind)?.byKey.get(keyOf(kind, KINDS[kind].namespaced ? namespace : undefined, name)) as KindTypes[K] | undefined;
  }

  /** Every object of a kind, in one namespace or all. */
  list<K extends KindName>(kind: K, namespace?: string): Array<KindTypes[K]> {
    const all = (this.kinds.get(kind)?.list ?? []) as unknown as Array<KindTypes[K]>;
    return namespace === undefined ? all : all.filter((object) => object.metadata.namespace === namespace);
  }

  /** Every object, ordered by kind, namespace and name. */
  all(): ManifestObject[] {
    return [...this.kinds.keys()].sort().flatMap((kind) => this.kinds.get(kind)!.list);
  }

  /** Namespaces in use: declared by a Namespace object or used by any namespaced object. */
  namespaces(): string[] {
    const names = new Set<string>(this.list('Namespace').map((ns) => ns.metadata.name));
    for (const { list } of this.kinds.values()) for (const object of list) if (object.metadata.namespace) names.add(object.metadata.namespace);
    return [...names].sort();
  }

  get size(): number {
    return this.count;
  }
}

/** One key of a store set to an object, or removed (object undefined). */
export interface StoreChange {
  kind: string;
  namespace: string | undefined;
  name: string;
  object: ManifestObject | undefined;
}

/** One kind's objects: by key, and listed in namespace and name order. */
interface KindIndex {
  byKey: Map<string, ManifestObject>;
  list: ManifestObject[];
}

export function keyOf(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function compareObjects(a: ManifestObject, b: ManifestObject): number {
  return compareStrings(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || compareStrings(a.metadata.name, b.metadata.name);
}

/** Where (namespace, name) is or would go in a list sorted by compareObjects. */
function searchObjects(list: ManifestObject[], namespace: string, name: string): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const object = list[mid];
    if ((compareStrings(object.metadata.namespace ?? '', namespace) || compareStrings(object.metadata.name, name)) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Code-point order: the same on every machine, whatever its locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
