/**
 * Manifests: YAML with positions, validated against schemas/, defaulted,
 * checked on their own and across the repository, in an ObjectStore.
 *
 *   parseManifestFile(file)            one file, pure (cache it by content)
 *   checkRepository(objects, cluster)  cross-object checks and the cluster's policy
 *   loadManifests(files)               both, plus the Cluster (defaults when absent) and the store
 *   ManifestSnapshot                   the same, kept: update(changed files) gives the next commit's
 *                                      load for the cost of what changed (engine/source uses it)
 *
 * Objects handed out are owned by the loader's caller and must be treated as
 * read-only (parse results may be cached and shared).
 */
import type { Cluster } from '../../schemas/types.generated.ts';
import { parseManifestFile, type ParseResult } from './parse.ts';
import { compareDiagnostics, ManifestSnapshot } from './snapshot.ts';
import type { ObjectStore } from './store.ts';
import type { Diagnostic, SourceFile } from './types.ts';

export type { Diagnostic, ManifestObject, SourceFile } from './types.ts';
export type { KindTypes, StoreChange } from './store.ts';
export type { ParseResult } from './parse.ts';
export type { FieldPath } from './yaml.ts';
export { ObjectStore, keyOf } from './store.ts';
export { parseManifestFile } from './parse.ts';
export { checkRepository } from './checks/repository.ts';
export { ManifestSnapshot, compareDiagnostics, defaultCluster, CLUSTER_API_VERSION, type FileChange } from './snapshot.ts';
export { PathMap } from './path-map.ts';
export { sourceOf, positionOf } from './positions.ts';
export { KINDS, WORKLOAD_KINDS, isKnownKind, type KindName, type KindInfo } from './kinds.ts';
export { selectorMatches } from './checks/selectors.ts';
export { DEFAULT_NAMESPACE } from './defaults.ts';
export { formatPath } from './schema.ts';

export interface LoadResult {
  store: ObjectStore;
  cluster: Cluster;
  diagnostics: Diagnostic[];
}

/** Loads a repository's files (paths unique): every object, the Cluster, and all diagnostics sorted by file and position. */
export function loadManifests(files: SourceFile[], parse: (file: SourceFile) => ParseResult = parseManifestFile): LoadResult {
  const { store, cluster, diagnostics } = ManifestSnapshot.empty().update(files.map((file) => [file.path, parse(file)]));
  return { store, cluster, diagnostics };
}

/** "file:line:col: severity: message", as compilers print it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

export function hasErrors(diagnostics: Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(compareDiagnostics);
}
