import assert from 'node:assert/strict';
import { ObjectStore, type ManifestObject } from '../../engine/manifests/index.ts';
import { reconcile, type DesiredObjects } from '../../engine/controllers/index.ts';
import { markReady, node, deployment, service, CLUSTER } from '../../engine/controllers/testing.ts';
import { previewObjects, type PreviewSource } from '../../engine/daemon/previews.ts';
import type { DesiredObject } from '../../engine/daemon/ports.ts';
import { emptyObserved, type ObservedState } from '../../engine/model.ts';
import { namespaceGone, previewProgress } from './progress.ts';

const NOW = new Date('2026-11-22T03:00:00Z');

function mainStore(previews?: Record<string, unknown>): ObjectStore {
  const cluster = { ...CLUSTER, spec: { ...CLUSTER.spec, ...(previews ? { previews } : {}) } };
  return new ObjectStore([node('h1'), node('h2')] as unknown as ManifestObject[], cluster as ObjectStore['cluster']);
}

function preview(image: string): PreviewSource {
  return { name: 'pr-4', commit: `c-${image}`, committedAt: NOW, objects: [deployment('web', { replicas: 2, image }), service('web')] as unknown as DesiredObject[] };
}

/** What the engine's status shows once it ran `p` to completion with every pod Ready. */
function engineRan(main: ObjectStore, p: PreviewSource): ObservedState {
  const objects = previewObjects([p], (main.cluster.spec as { previews?: never }).previews, NOW).objects as ManifestObject[];
  const desired = new ObjectStore([...main.all(), ...objects], main.cluster) as unknown as DesiredObjects;
  let observed = reconcile({ desired, commit: 'main', observed: emptyObserved(), now: NOW }).observed;
  observed = reconcile({ desired, commit: 'main', observed: markReady(observed), now: NOW }).observed;
  return observed;
}

describe('when a preview is Ready', () => {
  it('is not Ready before the engine started anything, and says what it waits for', () => {
    const p = previewProgress({ main: mainStore(), preview: preview('app:1'), commit: 'main', observed: emptyObserved(), now: NOW });
    assert.equal(p.ready, false);
    assert.ok(p.waiting.some((w) => /^pod web-[a-z0-9]+-[a-z0-9]+ to start on h[12]$/.test(w)), p.waiting.join('\n'));
  });

  it('is Ready once the status shows its pods Ready and its VIP allocated', () => {
    const main = mainStore();
    const p = previewProgress({ main, preview: preview('app:1'), commit: 'main', observed: engineRan(main, preview('app:1')), now: NOW });
    assert.deepEqual(p.waiting, []);
    assert.equal(p.ready, true);
    assert.equal(p.pods.length, 1, 'default preview limit: 1 replica');
    assert.equal(p.services.length, 1);
    assert.match(p.services[0].clusterIP, /^\d+\.\d+\.\d+\.\d+$/);
  });

  it('is not Ready while the Ready pods are those of an older push', () => {
    const main = mainStore();
    const p = previewProgress({ main, preview: preview('app:2'), commit: 'main', observed: engineRan(main, preview('app:1')), now: NOW });
    assert.equal(p.ready, false);
    assert.ok(p.waiting.length > 0);
  });

  it('is refused at once when the cluster disables previews', () => {
    const p = previewProgress({ main: mainStore({ enabled: false }), preview: preview('app:1'), commit: 'main', observed: emptyObserved(), now: NOW });
    assert.equal(p.ready, false);
    assert.match(p.refused ?? '', /previews are disabled in cluster\.yaml/);
  });

  it('after cleanup, the namespace is gone only when no pod, service or workload of it is left', () => {
    const main = mainStore();
    assert.equal(namespaceGone(engineRan(main, preview('app:1')), 'pr-4'), false);
    assert.equal(namespaceGone(engineRan(main, { ...preview('app:1'), objects: [] }), 'pr-4'), true);
  });
});
