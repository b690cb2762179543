/**
 * Desired state at a commit: the manifest files of its tree, each parsed once
 * per (path, blob oid) and cached, then loaded into an ObjectStore. Given the
 * previously loaded commit, only the files whose blob changed are read and
 * parsed, and the result says which objects were added, modified or deleted.
 */
import type { Cluster } from '../../schemas/types.generated.ts';
import { keyOf, loadManifests, parseManifestFile, hasErrors, RepositoryChecks, type Diagnostic, type ManifestObject, type ObjectStore, type SourceFile } from '../manifests/index.ts';
import type { ParseResult } from '../manifests/index.ts';
import { canonicalJson } from '../status/render.ts';
import { PackReader, type Pack } from './pack.ts';
import { commitTree, diffManifestTrees, listManifestFiles, objectReadingFs, readBlobText, type FileIndex } from './tree.ts';

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
  files: FileIndex;
  store: ObjectStore;
  cluster: Cluster;
  /** Errors and warnings, sorted by file and position. */
  diagnostics: Diagnostic[];
  valid: boolean;
  /** Objects that differ from the commit it was loaded against (everything, for a first load). */
  changes: ObjectChanges;
  /** Files read and parsed for this load (the rest came from the cache). */
  parsed: number;
  /** Where the time went: git (trees and blobs), parsing changed files, loading the store and cross-object checks. */
  timings: { gitMs: number; parseMs: number; storeMs: number };
}

export class DesiredLoader {
  private readonly cache = new ParseCache();
  /** Cross-object checks of the last load, reused for the namespaces a change did not touch. */
  private readonly checks = new RepositoryChecks();
  /** isomorphic-git's object cache (pack indexes), kept across loads. */
  readonly gitCache = {};
  /** Parsed pack indexes by file name, kept across loads. */
  private readonly packIndexes = new Map<string, Pack>();

  constructor(
    readonly gitdir: string,
    private readonly parse: (file: SourceFile) => ParseResult = parseManifestFile,
  ) {}

  /** Loads `commit`; with `base` (an earlier load) only the files changed since it are read. */
  async load(commit: string, base?: DesiredCommit): Promise<DesiredCommit> {
    const started = performance.now();
    const objectFs = objectReadingFs(this.gitdir);
    const packs = new PackReader(this.gitdir, this.packIndexes);
    const tree = await commitTree(this.gitdir, commit, this.gitCache, objectFs);
    let files: FileIndex;
    let touched: string[] = [];
    if (base) {
      const diff = await diffManifestTrees(this.gitdir, base.tree, tree, this.gitCache, objectFs);
      files = new Map(base.files);
      for (const file of diff.deleted) files.delete(file);
      for (const [file, oid] of diff.changed) files.set(file, oid);
      touched = [...diff.deleted, ...diff.changed.keys()];
    } else {
      files = await listManifestFiles(this.gitdir, tree, this.gitCache, objectFs);
    }
    const missing = [...files].filter(([file, oid]) => !this.cache.get(file, oid));
    const texts = await Promise.all(missing.map(([, oid]) => readBlobText(this.gitdir, oid, this.gitCache, objectFs, packs)));
    const read = performance.now();
    missing.forEach(([file, oid], i) => this.cache.set(file, oid, this.parse({ path: file, text: texts[i] })));
    const parsed = performance.now();
    const sources: SourceFile[] = [...files.keys()].map((file) => ({ path: file, text: '' }));
    const { store, cluster, diagnostics } = loadManifests(sources, (file) => this.cache.get(file.path, files.get(file.path)!)!, this.checks);
    const changes = base ? this.fileChanges(base, files, touched, store) : objectChanges(undefined, store);
    this.evict(files, base?.files);
    return {
      commit,
      tree,
      files,
      store,
      cluster,
      diagnostics,
      valid: !hasErrors(diagnostics),
      changes,
      parsed: missing.length,
      timings: { gitMs: read - started, parseMs: parsed - read, storeMs: performance.now() - parsed },
    };
  }

  /**
   * Object changes from the files that changed: objects of unchanged files are
   * the same cached objects, so only changed and deleted files are compared.
   * `touched` are the files the tree diff found changed or deleted. Falls back
   * to comparing whole stores when the base's parses were evicted.
   */
  private fileChanges(base: DesiredCommit, files: FileIndex, touched: string[], store: ObjectStore): ObjectChanges {
    const before: ManifestObject[] = [];
    const after: ManifestObject[] = [];
    for (const file of touched) {
      const was = base.files.get(file);
      const now = files.get(file);
      if (was === now) continue;
      const old = was === undefined ? undefined : this.cache.get(file, was);
      if (was !== undefined && !old) return objectChanges(base.store, store);
      if (old) before.push(...old.objects);
      if (now !== undefined) after.push(...this.cache.get(file, now)!.objects);
    }
    const key = (o: ManifestObject) => keyOf(o.kind, o.metadata.namespace, o.metadata.name);
    const lookup = (o: ManifestObject, s: ObjectStore) => (s as unknown as { get(kind: string, ns: string | undefined, name: string): ManifestObject | undefined }).get(o.kind, o.metadata.namespace, o.metadata.name);
    const changes: ObjectChanges = { added: [], modified: [], deleted: [] };
    const old = new Map(before.map((o) => [key(o), o]));
    for (const obj of after) {
      const k = key(obj);
      const inStore = lookup(obj, store);
      if (inStore !== obj) continue; // a duplicate the store did not take
      const prev = old.get(k) ?? lookup(obj, base.store);
      old.delete(k);
      if (!prev) changes.added.push(obj);
      else if (canonicalJson(prev) !== canonicalJson(obj)) changes.modified.push(obj);
    }
    for (const [, obj] of old) {
      if (!lookup(obj, store)) changes.deleted.push({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name });
    }
    return changes;
  }

  /** Keeps the parse cache to the files of the last two loads (the current one and its base). */
  private evict(current: FileIndex, previous: FileIndex | undefined): void {
    if (this.cache.size <= 2 * current.size + 1000) return;
    this.cache.retain([current, previous ?? new Map()]);
  }
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
  retain(indexes: FileIndex[]): void {
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
