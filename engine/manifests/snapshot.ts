/**
 * The loaded state of a set of manifest files, kept so that loading the next
 * commit costs what the commit changed. `update` makes the next snapshot from
 * the files that changed and leaves this one as it was: the engine keeps
 * applying an older snapshot while a newer commit is refused, and nothing of
 * a refused commit may leak into it.
 *
 * Per namespace a snapshot keeps the files with objects there, those objects
 * in file order and the namespace's cross-object diagnostics. An update
 * re-checks only the namespaces whose files changed (every namespace when the
 * cluster policy changed), re-runs the few checks across namespaces over the
 * objects they look at, sets the changed keys of the ObjectStore, and merges
 * the diagnostics into the sorted list. Everything else is shared with the
 * previous snapshot. A fresh load is `ManifestSnapshot.empty().update(every
 * file)`, so an update gives exactly what loading the same files afresh gives.
 */
import type { Cluster } from '../../schemas/types.generated.ts';
import { checkAcrossNamespaces, checkNamespace, isCheckedAcrossNamespaces } from './checks/repository.ts';
import type { ParseResult } from './parse.ts';
import { PathMap } from './path-map.ts';
import { validateObject } from './schema.ts';
import { keyOf, ObjectStore, type StoreChange } from './store.ts';
import type { Diagnostic, ManifestObject } from './types.ts';

export const CLUSTER_API_VERSION = 'coxswain.dev/v1alpha1';

/** A Cluster with every default, as if cluster.yaml said only its name. */
export function defaultCluster(): Cluster {
  const cluster = { apiVersion: CLUSTER_API_VERSION, kind: 'Cluster', metadata: { name: 'default' } };
  validateObject('Cluster', cluster);
  return cluster as Cluster;
}

/** A file's parse, or undefined for a file deleted. */
export type FileChange = readonly [path: string, result: ParseResult | undefined];

/** An object with its place in file order: its file's path and its index among the file's objects. */
interface Placed {
  object: ManifestObject;
  file: string;
  index: number;
}

interface NamespaceState {
  /** The files with objects in this namespace, by path. */
  files: Array<[string, ParseResult]>;
  /** This namespace's objects, in file order. */
  objects: ManifestObject[];
  /** Those the checks across namespaces look at. */
  crossing: Placed[];
  /** checkNamespace(objects) under the snapshot's policy. */
  diagnostics: Diagnostic[];
}

export class ManifestSnapshot {
  private constructor(
    private readonly files: PathMap<ParseResult>,
    private readonly namespaces: ReadonlyMap<string, NamespaceState>,
    private readonly policy: string,
    /** The diagnostics of the checks across namespaces. */
    private readonly crossDiagnostics: Diagnostic[],
    readonly store: ObjectStore,
    readonly cluster: Cluster,
    /** Whether the cluster came from a file (rather than the defaults). */
    private readonly declaredCluster: boolean,
    /** Every diagnostic, sorted by compareDiagnostics. */
    readonly diagnostics: Diagnostic[],
    /** How many of them are errors: a snapshot with any may not be applied. */
    readonly errorCount: number,
  ) {}

  static empty(): ManifestSnapshot {
    const cluster = defaultCluster();
    return new ManifestSnapshot(PathMap.empty(), new Map(), policyOf(cluster), [], new ObjectStore([], cluster), cluster, false, [], 0);
  }

  /** The parse a file was loaded from. */
  file(path: string): ParseResult | undefined {
    return this.files.get(path);
  }

  /** The next snapshot: each changed file with its new parse, or removed. Paths not named keep their parse. */
  update(changes: Iterable<FileChange>): ManifestSnapshot {
    const changed = [...new Map(changes)].filter(([path, result]) => this.files.get(path) !== result);
    if (changed.length === 0) return this;
    const files = this.files.with(changed);

    // The namespaces whose files changed, with each of those files' new parse (undefined: gone from the namespace).
    const edits = new Map<string, Map<string, ParseResult | undefined>>();
    const edit = (namespace: string, path: string, result: ParseResult | undefined) => {
      let byPath = edits.get(namespace);
      if (!byPath) edits.set(namespace, (byPath = new Map()));
      byPath.set(path, result);
    };
    const touchedKeys = new Map<string, StoreChange>();
    const touch = (object: ManifestObject) => {
      const { kind, metadata: { namespace, name } } = object;
      touchedKeys.set(keyOf(kind, namespace, name), { kind, namespace, name, object: undefined });
    };
    const removed: Diagnostic[] = [];
    const added: Diagnostic[] = [];
    for (const [path, result] of changed) {
      const before = this.files.get(path);
      for (const object of before?.objects ?? []) {
        edit(namespaceOf(object), path, undefined);
        touch(object);
      }
      for (const object of result?.objects ?? []) {
        edit(namespaceOf(object), path, result);
        touch(object);
      }
      append(removed, before?.diagnostics);
      append(added, result?.diagnostics);
    }

    const namespaces = new Map(this.namespaces);
    for (const [namespace, byPath] of edits) {
      const kept = (this.namespaces.get(namespace)?.files ?? []).filter(([path]) => !byPath.has(path));
      const now = [...byPath].filter((entry): entry is [string, ParseResult] => entry[1] !== undefined);
      const nsFiles = [...kept, ...now].sort(([a], [b]) => compareStrings(a, b));
      if (nsFiles.length === 0) namespaces.delete(namespace);
      else namespaces.set(namespace, gather(namespace, nsFiles));
    }

    const crossing = [...namespaces.values()].flatMap((state) => state.crossing).sort(compareFileOrder);
    const firstCluster = crossing.find(({ object }) => object.kind === 'Cluster')?.object as Cluster | undefined;
    const cluster = firstCluster ?? (this.declaredCluster ? defaultCluster() : this.cluster);
    const policy = policyOf(cluster);
    for (const [namespace, state] of namespaces) {
      const fresh = state !== this.namespaces.get(namespace);
      if (!fresh && policy === this.policy) continue;
      const diagnostics = checkNamespace(state.objects, cluster);
      namespaces.set(namespace, { ...state, diagnostics });
      append(added, diagnostics);
      append(removed, this.namespaces.get(namespace)?.diagnostics);
    }
    for (const [namespace, previous] of this.namespaces) if (!namespaces.has(namespace)) append(removed, previous.diagnostics);
    const crossDiagnostics = checkAcrossNamespaces(crossing.map(({ object }) => object), cluster);
    append(removed, this.crossDiagnostics);
    append(added, crossDiagnostics);

    // Each touched key now holds the first object with it in file order, if any is left.
    for (const namespace of edits.keys()) {
      for (const object of namespaces.get(namespace)?.objects ?? []) {
        const key = keyOf(object.kind, object.metadata.namespace, object.metadata.name);
        const change = touchedKeys.get(key);
        if (change && !change.object) change.object = object;
      }
    }
    const store = this.store.with(touchedKeys.values(), cluster);

    const { diagnostics, errorChange } = mergeDiagnostics(this.diagnostics, removed, added);
    const errorCount = this.errorCount + errorChange;
    return new ManifestSnapshot(files, namespaces, policy, crossDiagnostics, store, cluster, firstCluster !== undefined, diagnostics, errorCount);
  }
}

/** Diagnostics by file, line and column; message, severity and field order those at the same position, so the order is total. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    compareStrings(a.file, b.file) || a.line - b.line || a.column - b.column ||
    compareStrings(a.message, b.message) || compareStrings(a.severity, b.severity) || compareStrings(a.field ?? '', b.field ?? '')
  );
}

/**
 * `sorted` without (one occurrence of each of) `removed` and with `added`,
 * sorted as sorting the whole again would sort it. Only the diagnostics near
 * the changes are compared: kept ones are copied as they are.
 */
function mergeDiagnostics(sorted: Diagnostic[], removed: Diagnostic[], added: Diagnostic[]): { diagnostics: Diagnostic[]; errorChange: number } {
  const dropped = new Set<number>();
  let errorChange = 0;
  for (const d of removed) {
    for (let at = lowerBound(sorted, d); at < sorted.length && compareDiagnostics(sorted[at], d) === 0; at++) {
      if (sorted[at] === d && !dropped.has(at)) {
        dropped.add(at);
        if (d.severity === 'error') errorChange--;
        break;
      }
    }
  }
  const kept = dropped.size === 0 ? sorted : sorted.filter((_, i) => !dropped.has(i));
  const out: Diagnostic[] = [];
  let from = 0;
  for (const d of [...added].sort(compareDiagnostics)) {
    const at = lowerBound(kept, d, from);
    for (; from < at; from++) out.push(kept[from]);
    out.push(d);
    if (d.severity === 'error') errorChange++;
  }
  for (; from < kept.length; from++) out.push(kept[from]);
  return { diagnostics: out, errorChange };
}

/** The first index from `low` on whose diagnostic does not sort before `d`. */
function lowerBound(sorted: Diagnostic[], d: Diagnostic, low = 0): number {
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (compareDiagnostics(sorted[mid], d) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** A namespace's objects in file order, from its files sorted by path. */
function gather(namespace: string, files: Array<[string, ParseResult]>): NamespaceState {
  const objects: ManifestObject[] = [];
  const crossing: Placed[] = [];
  for (const [file, result] of files) {
    result.objects.forEach((object, index) => {
      if (namespaceOf(object) !== namespace) return;
      objects.push(object);
      if (isCheckedAcrossNamespaces(object)) crossing.push({ object, file, index });
    });
  }
  return { files, objects, crossing, diagnostics: [] };
}

/** push(...items) without the limit on the number of arguments (a namespace may have many diagnostics). */
function append<T>(target: T[], items: T[] | undefined): void {
  for (const item of items ?? []) target.push(item);
}

function namespaceOf(object: ManifestObject): string {
  return object.metadata.namespace ?? '';
}

function policyOf(cluster: Cluster): string {
  return JSON.stringify(cluster.spec?.policy ?? {});
}

function compareFileOrder(a: Placed, b: Placed): number {
  return compareStrings(a.file, b.file) || a.index - b.index;
}

/** Code-point order: the same on every machine, whatever its locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
