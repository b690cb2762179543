import assert from 'node:assert/strict';
import { composeMessage, describeChange, parseTrailers } from './messages.ts';
import { deployment, node, pod, service } from './testing.ts';
import type { StatusObject } from './render.ts';
import type { NodeObject } from '../model.ts';
import type { ProxyTableEntry } from '../../common/agent-api.ts';

function withProxy(n: NodeObject, services: ProxyTableEntry[]): NodeObject {
  return { ...n, status: { ...n.status, proxy: { mode: 'nftables', services } } };
}
const webPort = (backends: string[], vip = '100.127.0.52'): ProxyTableEntry => ({ service: 'demo/web:80', vip, port: 80, protocol: 'TCP', backends });

const cases: Array<{ name: string; before?: StatusObject; after?: StatusObject; says: string }> = [
  { name: 'a new pod is created with its status and node', after: pod('web-5d8f-x2k', { node: 'h2' }), says: 'web-5d8f-x2k: created, ContainerCreating on h2' },
  { name: 'a pod that starts says its old and new status and its node', before: pod('web-5d8f-x2k', { node: 'h2', phase: 'Pending', ready: false }), after: pod('web-5d8f-x2k', { node: 'h2', phase: 'Running', ready: false }), says: 'web-5d8f-x2k: ContainerCreating -> Running on h2' },
  { name: 'a pod bound to a node says where', before: pod('web-1'), after: pod('web-1', { node: 'h1' }), says: 'web-1: bound to h1, Pending -> ContainerCreating on h1' },
  { name: 'a restart is counted', before: pod('web-1', { node: 'h1', phase: 'Running' }), after: pod('web-1', { node: 'h1', phase: 'Running', restarts: 2 }), says: 'web-1: restarted (2 restarts)' },
  { name: 'a pod outside the default namespace is named with its namespace', after: pod('db-0', { namespace: 'data' }), before: undefined, says: 'data/db-0: created, Pending' },
  { name: 'a deleted pod says so', before: pod('web-1'), says: 'web-1: deleted' },
  { name: 'a node that stops reporting goes NotReady', before: node('h1', true), after: node('h1', false), says: 'node h1: Ready -> NotReady' },
  { name: 'a node programming a new service names it with its VIP and backends', before: withProxy(node('h1'), []), after: withProxy(node('h1'), [webPort(['100.64.1.2:8080'])]), says: 'node h1: proxy demo/web:80 added (100.127.0.52:80, 1 backends)' },
  { name: 'a node whose service gains backends counts them', before: withProxy(node('h1'), [webPort(['100.64.1.2:8080'])]), after: withProxy(node('h1'), [webPort(['100.64.1.2:8080', '100.64.2.2:8080', '100.64.3.2:8080'])]), says: 'node h1: proxy demo/web:80 backends 1 -> 3' },
  { name: 'a node dropping a service says so', before: withProxy(node('h1'), [webPort([])]), after: withProxy(node('h1'), []), says: 'node h1: proxy demo/web:80 removed' },
  { name: 'a service gaining an endpoint lists it', before: service('web', []), after: service('web', [{ ip: '100.64.1.5', podName: 'web-1' }]), says: 'service web: endpoints 0 -> 1 (+100.64.1.5:8080)' },
  { name: 'a deployment becoming ready counts replicas', before: deployment('web', 1, 3), after: deployment('web', 3, 3), says: 'deployment web: ready 1/3 -> 3/3' },
];

describe('status commit messages', () => {
  for (const c of cases) {
    it(c.name, () => assert.equal(describeChange(c.before, c.after), c.says));
  }

  it('uses the one change as the subject and ends with the trailers', () => {
    const message = composeMessage(['web-1: Pending -> Running on h2'], { desiredCommit: 'a'.repeat(40), reason: 'pod started' });
    assert.equal(message, `web-1: Pending -> Running on h2\n\nCoxswain-Desired: ${'a'.repeat(40)}\nCoxswain-Reason: pod started\n`);
    assert.deepEqual(parseTrailers(message), { 'Coxswain-Desired': 'a'.repeat(40), 'Coxswain-Reason': 'pod started' });
  });

  it('counts several changes in the subject and lists them all in the body', () => {
    const message = composeMessage(['a: deleted', 'b: deleted', 'c: deleted', 'd: deleted'], { desiredCommit: 'b'.repeat(40) });
    const [subject, , ...rest] = message.split('\n');
    assert.equal(subject, '4 changes: a: deleted; b: deleted; c: deleted; ...');
    assert.deepEqual(rest.slice(0, 4), ['a: deleted', 'b: deleted', 'c: deleted', 'd: deleted']);
  });
});
