/**
 * Manifests: YAML with positions, validated against schemas/, defaulted,
 * checked on their own and across the repository, in an ObjectStore.
 *
 *   parseManifestFile(file)            one file, pure (cache it by content)
 *   checkRepository(objects, cluster)  cross-object checks and the cluster's policy
 *   loadManifests(files)               both, plus the Cluster (defaults when absent) and the store
 *                                      (pass the same RepositoryChecks to reuse the checks of unchanged namespaces)
 *
 * Objects handed out are owned by the loader's caller and must be treated as
 * read-only (parse results may be cached and shared).
 */
import type { Cluster } from '../../schemas/types.generated.ts';
import { RepositoryChecks } from './checks/repository.ts';
import { parseManifestFile } from './parse.ts';
import { validateObject } from './schema.ts';
import { ObjectStore } from './store.ts';
import type { Diagnostic, ManifestObject, SourceFile } from './types.ts';

export type { Diagnostic, ManifestObject, SourceFile } from './types.ts';
export type { KindTypes } from './store.ts';
export type { ParseResult } from './parse.ts';
export type { FieldPath } from './yaml.ts';
export { ObjectStore, keyOf } from './store.ts';
export { parseManifestFile } from './parse.ts';
export { checkRepository, RepositoryChecks } from './checks/repository.ts';
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

export const CLUSTER_API_VERSION = 'coxswain.dev/v1alpha1';

/** A Cluster with every default, as if cluster.yaml said only its name. */
export function defaultCluster(): Cluster {
  const cluster = { apiVersion: CLUSTER_API_VERSION, kind: 'Cluster', metadata: { name: 'default' } };
  validateObject('Cluster', cluster);
  return cluster as Cluster;
}

/** Loads a repository's files: every object, the Cluster, and all diagnostics sorted by file and position. */
export function loadManifests(
  files: SourceFile[],
  parse: (file: SourceFile) => { objects: ManifestObject[]; diagnostics: Diagnostic[] } = parseManifestFile,
  checks = new RepositoryChecks(),
): LoadResult {
  const objects: ManifestObject[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const result = parse(file);
    objects.push(...result.objects);
    diagnostics.push(...result.diagnostics);
  }
  const cluster = (objects.find((object) => object.kind === 'Cluster') as Cluster | undefined) ?? defaultCluster();
  diagnostics.push(...checks.check(objects, cluster));
  return { store: new ObjectStore(objects, cluster), cluster, diagnostics: sortDiagnostics(diagnostics) };
}

/** "file:line:col: severity: message", as compilers print it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

export function hasErrors(diagnostics: Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
}
