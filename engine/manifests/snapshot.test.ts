import assert from 'node:assert/strict';
import fc from 'fast-check';
import { manifestCommit, manifestFiles } from './testing.ts';
import type { Cluster } from '../../schemas/types.generated.ts';
import { checkRepository, defaultCluster, ManifestSnapshot, ObjectStore, parseManifestFile, sortDiagnostics, type ParseResult } from './index.ts';

/** What a snapshot means, as plain data: objects, cluster and diagnostics compare by value. */
function outcome(snapshot: Pick<ManifestSnapshot, 'store' | 'cluster' | 'diagnostics' | 'errorCount'>) {
  return JSON.parse(JSON.stringify({ objects: snapshot.store.all(), size: snapshot.store.size, cluster: snapshot.cluster, diagnostics: snapshot.diagnostics, errorCount: snapshot.errorCount })) as unknown;
}

/** The same files loaded the plain way: every object in path order, the first Cluster, every check over everything. */
function plainLoad(files: Map<string, string>) {
  const results = [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([file, text]) => parseManifestFile({ path: file, text }));
  const objects = results.flatMap((result) => result.objects);
  const cluster = (objects.find((object) => object.kind === 'Cluster') as Cluster | undefined) ?? defaultCluster();
  const diagnostics = sortDiagnostics([...results.flatMap((result) => result.diagnostics), ...checkRepository(objects, cluster)]);
  return { store: new ObjectStore(objects, cluster), cluster, diagnostics, errorCount: diagnostics.filter((d) => d.severity === 'error').length };
}

describe('ManifestSnapshot: an update equals a fresh load of the same files', function () {
  this.timeout(120_000);

  it('after any sequence of random commits, and leaves the snapshot it started from unchanged', () => {
    fc.assert(
      fc.property(fc.array(manifestCommit, { minLength: 1, maxLength: 8 }), (commits) => {
        // Parses shared between snapshots, as the loader's cache shares them (same path and text, same result).
        const parses = new Map<string, ParseResult>();
        const parse = (file: string, text: string) => {
          const key = `${file}\u0000${text}`;
          if (!parses.has(key)) parses.set(key, parseManifestFile({ path: file, text }));
          return parses.get(key)!;
        };
        const files = new Map<string, string>();
        let snapshot = ManifestSnapshot.empty();
        for (const changes of commits) {
          for (const [file, text] of changes) {
            if (text === null) files.delete(file);
            else files.set(file, text);
          }
          const before = outcome(snapshot);
          const next = snapshot.update(changes.map(([file, text]) => [file, text === null ? undefined : parse(file, text)]));
          assert.deepEqual(outcome(snapshot), before, 'the snapshot updated from is unchanged');
          const cold = ManifestSnapshot.empty().update([...files].map(([file, text]) => [file, parseManifestFile({ path: file, text })]));
          assert.deepEqual(outcome(next), outcome(cold), 'an update equals a fresh snapshot');
          assert.deepEqual(outcome(cold), outcome(plainLoad(files)), 'a fresh snapshot equals the plain load');
          assert.equal(next.errorCount, next.diagnostics.filter((d) => d.severity === 'error').length);
          for (const object of cold.store.all()) {
            assert.deepEqual(next.store.get(object.kind as 'Pod', object.metadata.namespace, object.metadata.name), object);
          }
          snapshot = next;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the random commits reach every cross-object check (the generators are not too tame)', () => {
    const files = fc.sample(manifestFiles, { numRuns: 400, seed: 7 });
    const messages = files.flatMap((set) => ManifestSnapshot.empty().update(set.map(([file, text]) => [file, parseManifestFile({ path: file, text })])).diagnostics.map((d) => d.message)).join('\n');
    for (const expected of ['is defined twice', 'is not in the repository', 'has no key', 'also selects the pods of', 'selects no Pod', 'declares a port named', 'is also used by', 'is also the clusterIP of', "outside the cluster's nodePortRange", "outside the cluster's serviceCIDR", 'is also the address of node', 'overlaps node', 'a repository has one Cluster', 'refused by the cluster policy', 'invalid YAML', 'unknown kind']) {
      assert.ok(messages.includes(expected), `some random repository should produce "${expected}"`);
    }
  });
});
