import assert from 'node:assert/strict';
import { previewObjects, type PreviewSource } from './previews.ts';
import type { DesiredObject } from './ports.ts';

const now = new Date('2026-11-22T12:00:00Z');

function deployment(name: string, replicas: number, extra: Record<string, unknown> = {}): DesiredObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default' }, spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'i', ...extra }] } } } };
}
function preview(name: string, objects: DesiredObject[], hoursOld = 1): PreviewSource {
  return { name, commit: 'c'.repeat(40), committedAt: new Date(now.getTime() - hoursOld * 3600_000), objects };
}
const templateSpec = (o: DesiredObject) => ((o.spec as { template: { spec: Record<string, unknown> } }).template.spec);

describe('preview environments', () => {
  it('moves namespaced objects into pr-<n> and leaves Nodes, Namespaces and the Cluster to the main branch', () => {
    const result = previewObjects([preview('pr-7', [deployment('web', 1), { apiVersion: 'v1', kind: 'Node', metadata: { name: 'h9' } }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }])], {}, now);
    assert.deepEqual(result.objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`), ['Deployment/pr-7/web']);
    assert.equal(result.objects[0].metadata.labels!['coxswain.io/preview'], 'pr-7');
  });

  it('caps replicas per workload at the policy maximum and says so', () => {
    const result = previewObjects([preview('pr-1', [deployment('web', 5)])], { limits: { maxReplicas: 2 } }, now);
    assert.equal((result.objects[0].spec as { replicas: number }).replicas, 2);
    assert.deepEqual(result.notes, [{ preview: 'pr-1', message: 'Deployment/web: 5 -> 2 replicas (preview limits)' }]);
  });

  it('scales workloads down so a preview never exceeds its pod budget', () => {
    const result = previewObjects([preview('pr-1', [deployment('a', 3), deployment('b', 3), deployment('c', 3)])], { limits: { maxReplicas: 3, maxPods: 5 } }, now);
    assert.deepEqual(result.objects.map((o) => (o.spec as { replicas: number }).replicas), [3, 2, 0]);
  });

  it('drops fixed VIPs and node ports so a preview cannot take the main branch\'s', () => {
    const service: DesiredObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { type: 'NodePort', clusterIP: '100.127.0.50', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }] } };
    const [copy] = previewObjects([preview('pr-3', [service])], {}, now).objects;
    assert.deepEqual(copy.spec, { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] });
  });

  it('puts preview pods on the nodes the policy selects', () => {
    const [copy] = previewObjects([preview('pr-2', [deployment('web', 1)])], { nodeSelector: { pool: 'previews' } }, now).objects;
    assert.deepEqual(templateSpec(copy).nodeSelector, { pool: 'previews' });
  });

  it('caps container CPU and memory limits, and requests with them', () => {
    const [copy] = previewObjects([preview('pr-2', [deployment('web', 1, { resources: { requests: { cpu: '2', memory: '64Mi' }, limits: { memory: '1Gi' } } })])], { limits: { cpu: '500m', memory: '256Mi' } }, now).objects;
    const container = (templateSpec(copy).containers as Array<{ resources: unknown }>)[0];
    assert.deepEqual(container.resources, { limits: { memory: '256Mi', cpu: '500m' }, requests: { cpu: '500m', memory: '64Mi' } });
  });

  it('removes a preview not updated within its time to live', () => {
    const result = previewObjects([preview('pr-9', [deployment('web', 1)], 80)], { ttlHours: 72 }, now);
    assert.deepEqual(result.objects, []);
    assert.match(result.notes[0].message, /^expired/);
  });

  it('runs no preview when previews are disabled', () => {
    assert.deepEqual(previewObjects([preview('pr-1', [deployment('web', 1)])], { enabled: false }, now).objects, []);
  });

  it('ignores refs not named pr-<number>', () => {
    const result = previewObjects([preview('feature-x', [deployment('web', 1)])], {}, now);
    assert.deepEqual(result.objects, []);
    assert.match(result.notes[0].message, /pr-<number>/);
  });
});
