/**
 * Desired state at a commit: the manifest files of its tree, each parsed once
 * per (path, blob oid) and cached, then loaded into an ObjectStore. Given the
 * previously loaded commit, only the files whose blob changed are read and
 * parsed, and the result says which objects were added, modified or deleted.
 */
import type { Cluster } from '../../schemas/types.generated.ts';
import { keyOf, ManifestSnapshot, parseManifestFile, PathMap, type Diagnostic, type FileChange, type KindName, type ManifestObject, type ObjectStore, type ParseResult, type SourceFile } from '../manifests/index.ts';
import { canonicalJson } from '../status/render.ts';
import { PackReader, type Pack } from './pack.ts';
import { commitTree, diffManifestTrees, listManifestFiles, objectReadingFs, readBlobText } from './tree.ts';

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export interface ObjectChanges {
  added: ManifestObject[];
  modified: ManifestObject[];
  deleted: ObjectRef[];
}

/** One commit, loaded. `valid` is false when any diagnostic is an error: such a commit is never applied. */
export interface DesiredCommit {
  commit: string;
  tree: string;
  /** path -> blob oid of every manifest file. */
  files: PathMap<string>;
  store: ObjectStore;
  cluster: Cluster;
  /** Errors and warnings, sorted by file and position. */
  diagnostics: Diagnostic[];
  valid: boolean;
  /** Objects that differ from the commit it was loaded against (everything, for a first load). */
  changes: ObjectChanges;
  /** Files read and parsed for this load (the rest came from the cache or the commit it was loaded against). */
  parsed: number;
  /** Where the time went: git (trees and blobs), parsing changed files, loading the store and cross-object checks. */
  timings: { gitMs: number; parseMs: number; storeMs: number };
  /** The loaded manifests; the next commit loaded against this one starts from here. */
  snapshot: ManifestSnapshot;
}

export class DesiredLoader {
  private readonly cache = new ParseCache();
  /** isomorphic-git's object cache (pack indexes), kept across loads. */
  readonly gitCache = {};
  /** Parsed pack indexes by file name, kept across loads. */
  private readonly packIndexes = new Map<string, Pack>();

  constructor(
    readonly gitdir: string,
    private readonly parse: (file: SourceFile) => ParseResult = parseManifestFile,
  ) {}

  /**
   * Loads `commit`; with `base` (an earlier load, of any commit) only the files
   * changed since it are read, parsed and checked again. `base` is left as it was.
   */
  async load(commit: string, base?: DesiredCommit): Promise<DesiredCommit> {
    const started = performance.now();
    const objectFs = objectReadingFs(this.gitdir);
    const packs = new PackReader(this.gitdir, this.packIndexes);
    const tree = await commitTree(this.gitdir, commit, this.gitCache, objectFs, packs);
    const diff = base
      ? await diffManifestTrees(this.gitdir, base.tree, tree, this.gitCache, objectFs, packs)
      : { changed: await listManifestFiles(this.gitdir, tree, this.gitCache, objectFs, packs), deleted: [] };
    const missing = [...diff.changed].filter(([file, oid]) => !this.cache.get(file, oid));
    const texts = await Promise.all(missing.map(([, oid]) => readBlobText(this.gitdir, oid, this.gitCache, objectFs, packs)));
    const read = performance.now();
    missing.forEach(([file, oid], i) => this.cache.set(file, oid, this.parse({ path: file, text: texts[i] })));
    const parsed = performance.now();
    const fileChanges: FileChange[] = [
      ...diff.deleted.map((file): FileChange => [file, undefined]),
      ...[...diff.changed].map(([file, oid]): FileChange => [file, this.cache.get(file, oid)!]),
    ];
    const snapshot = (base?.snapshot ?? ManifestSnapshot.empty()).update(fileChanges);
    const files = (base?.files ?? PathMap.empty<string>()).with([...diff.deleted.map((file) => [file, undefined] as const), ...diff.changed]);
    const changes = base ? changedObjects(base.snapshot, snapshot, fileChanges) : objectChanges(undefined, snapshot.store);
    this.evict(files, base?.files);
    return {
      commit,
      tree,
      files,
      store: snapshot.store,
      cluster: snapshot.cluster,
      diagnostics: snapshot.diagnostics,
      valid: snapshot.errorCount === 0,
      changes,
      parsed: missing.length,
      timings: { gitMs: read - started, parseMs: parsed - read, storeMs: performance.now() - parsed },
      snapshot,
    };
  }

  /** Keeps the parse cache to the files of the last two loads (the current one and its base). */
  private evict(current: PathMap<string>, previous: PathMap<string> | undefined): void {
    if (this.cache.size <= 2 * current.size + 1000) return;
    this.cache.retain([current, previous ?? PathMap.empty()]);
  }
}

/**
 * Object changes from the files that changed: only a key with an object in
 * one of them can hold another object now (a duplicate elsewhere may take
 * over a deleted one), so only those keys are compared.
 */
function changedObjects(base: ManifestSnapshot, next: ManifestSnapshot, files: FileChange[]): ObjectChanges {
  const touched = new Map<string, ManifestObject>();
  for (const [file, result] of files) {
    for (const o of [...(base.file(file)?.objects ?? []), ...(result?.objects ?? [])]) touched.set(keyOf(o.kind, o.metadata.namespace, o.metadata.name), o);
  }
  const changes: ObjectChanges = { added: [], modified: [], deleted: [] };
  const lookup = (store: ObjectStore, kind: string, namespace: string | undefined, name: string) => store.get(kind as KindName, namespace, name) as ManifestObject | undefined;
  for (const { kind, metadata: { namespace, name } } of touched.values()) {
    const was = lookup(base.store, kind, namespace, name);
    const now = lookup(next.store, kind, namespace, name);
    if (now && !was) changes.added.push(now);
    else if (was && !now) changes.deleted.push({ kind, namespace, name });
    else if (was && now && was !== now && canonicalJson(was) !== canonicalJson(now)) changes.modified.push(now);
  }
  return changes;
}

/**
 * Parses by path and blob oid. Nested maps rather than one map keyed by a
 * joined string: a lookup then hashes strings the file index already holds.
 */
class ParseCache {
  private readonly byFile = new Map<string, Map<string, ParseResult>>();
  size = 0;

  get(file: string, oid: string): ParseResult | undefined {
    return this.byFile.get(file)?.get(oid);
  }

  set(file: string, oid: string, result: ParseResult): void {
    let versions = this.byFile.get(file);
    if (!versions) this.byFile.set(file, (versions = new Map()));
    if (!versions.has(oid)) this.size++;
    versions.set(oid, result);
  }

  /** Drops every parse that is not of a file version in one of `indexes`. */
  retain(indexes: Array<PathMap<string>>): void {
    for (const [file, versions] of this.byFile) {
      for (const oid of [...versions.keys()]) {
        if (indexes.some((index) => index.get(file) === oid)) continue;
        versions.delete(oid);
        this.size--;
      }
      if (versions.size === 0) this.byFile.delete(file);
    }
  }
}

/** Objects added, modified (by content) and deleted between two stores. */
export function objectChanges(before: ObjectStore | undefined, after: ObjectStore): ObjectChanges {
  const changes: ObjectChanges = { added: [], modified: [], deleted: [] };
  const old = new Map<string, ManifestObject>();
  for (const obj of before?.all() ?? []) old.set(keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name), obj);
  for (const obj of after.all()) {
    const key = keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const prev = old.get(key);
    old.delete(key);
    if (!prev) changes.added.push(obj);
    else if (prev !== obj && canonicalJson(prev) !== canonicalJson(obj)) changes.modified.push(obj);
  }
  for (const obj of old.values()) changes.deleted.push({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name });
  return changes;
}
