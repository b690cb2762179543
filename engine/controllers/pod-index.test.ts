import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PodObject } from '../model.ts';
import { PodHistory, PodIndex, podChanges } from './pod-index.ts';

function pod(uid: string, node: string, app: string): PodObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { uid, name: uid, namespace: 'default', labels: { app } }, spec: { nodeName: node, containers: [] }, status: { phase: 'Running', conditions: [], containerStatuses: [] } } as unknown as PodObject;
}

const keysOf = (p: PodObject) => [`node=${p.spec.nodeName}`, `app=${p.metadata.labels!.app}`];
const byName = (a: PodObject, b: PodObject) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
const KEYS = ['node=a', 'node=b', 'node=c', 'app=x', 'app=y'];

type Step = { uid: number; op: 'put' | 'replace' | 'remove'; node: 'a' | 'b' | 'c'; app: 'x' | 'y' };
const step = fc.record({ uid: fc.nat(40), op: fc.constantFrom('put' as const, 'replace' as const, 'remove' as const), node: fc.constantFrom('a' as const, 'b' as const, 'c' as const), app: fc.constantFrom('x' as const, 'y' as const) });

describe('PodIndex', () => {
  it('after any sequence of pods arriving, being replaced and leaving, holds exactly what a fresh index of the same pods holds, and never changes a list it handed out', () => {
    fc.assert(
      fc.property(fc.array(fc.array(step, { maxLength: 30 }), { minLength: 1, maxLength: 8 }), (passes) => {
        const index = new PodIndex(keysOf, byName);
        const pods = new Map<string, PodObject>();
        const handedOut: Array<{ list: readonly PodObject[]; copy: PodObject[] }> = [];
        for (const steps of passes) {
          for (const s of steps) {
            const uid = `p${s.uid}`;
            if (s.op === 'remove') pods.delete(uid);
            else if (s.op === 'put' || pods.has(uid)) pods.set(uid, pod(uid, s.node, s.app));
          }
          index.update(pods);
          const fresh = new PodIndex(keysOf, byName);
          fresh.update(new Map(pods));
          for (const key of KEYS) {
            assert.deepEqual(index.get(key) ?? [], fresh.get(key) ?? [], key);
            const list = index.get(key);
            if (list) handedOut.push({ list, copy: [...list] });
          }
          for (const { list, copy } of handedOut) assert.deepEqual(list, copy);
        }
      }),
    );
  });

  it('following a history, holds what a fresh index holds after changes between passes, in passes before and after its update, and passes that threw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ outside: fc.array(step, { maxLength: 6 }), before: fc.array(step, { maxLength: 3 }), after: fc.array(step, { maxLength: 3 }), update: fc.boolean(), throws: fc.boolean() }), { minLength: 1, maxLength: 10 }),
        (passes) => {
          const history = new PodHistory();
          const index = new PodIndex(keysOf, byName, history);
          // Forty pods to start with, so that most passes change fewer than a quarter of them (the incremental path).
          let observed = new Map(Array.from({ length: 40 }, (_, i) => [`p${i}`, pod(`p${i}`, 'abc'[i % 3], 'xy'[i % 2])] as [string, PodObject]));
          const apply = (pods: Map<string, PodObject>, steps: Step[], note?: (uid: string) => void) => {
            for (const s of steps) {
              const uid = `p${s.uid}`;
              if (s.op === 'remove') pods.delete(uid);
              else if (s.op === 'put' || pods.has(uid)) pods.set(uid, pod(uid, s.node, s.app));
              note?.(uid);
            }
          };
          for (const p of passes) {
            apply(observed, p.outside);
            const next = new Map(observed);
            history.beginPass(next);
            apply(next, p.before, (uid) => history.note(uid));
            if (p.update) {
              index.update(next);
              const fresh = new PodIndex(keysOf, byName);
              fresh.update(new Map(next));
              for (const key of KEYS) assert.deepEqual(index.get(key) ?? [], fresh.get(key) ?? [], key);
            }
            apply(next, p.after, (uid) => history.note(uid));
            if (p.throws) continue; // the pass's state is thrown away: observed stays as it was
            history.endPass(next);
            observed = new Map(next);
          }
        },
      ),
    );
  });

  it('gives back the very same list for a key whose pods did not change', () => {
    const index = new PodIndex(keysOf, byName);
    const pods = new Map(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((uid, i) => [uid, pod(uid, i === 1 ? 'b' : 'a', 'x')]));
    index.update(pods);
    const onA = index.get('node=a');
    const onB = index.get('node=b');
    pods.set('p2', pod('p2', 'b', 'x'));
    index.update(pods);
    assert.equal(index.get('node=a'), onA);
    assert.notEqual(index.get('node=b'), onB);
  });
});

describe('podChanges', () => {
  it('names the pods that arrived (new objects of known uids too) and those that left', () => {
    const a = pod('a', 'n', 'x');
    const b = pod('b', 'n', 'x');
    const c = pod('c', 'n', 'x');
    const b2 = pod('b', 'n', 'y');
    const d = pod('d', 'n', 'x');
    const filed = new Map([['a', a], ['b', b], ['c', c], ['x1', pod('x1', 'n', 'x')], ['x2', pod('x2', 'n', 'x')], ['x3', pod('x3', 'n', 'x')], ['x4', pod('x4', 'n', 'x')], ['x5', pod('x5', 'n', 'x')]]);
    const current = new Map([...filed].filter(([uid]) => uid !== 'c'));
    current.set('b', b2);
    current.set('d', d);
    const changes = podChanges(current, filed)!;
    assert.deepEqual(changes.arrived, [['b', b2], ['d', d]]);
    assert.deepEqual(new Set(changes.left), new Set([b, c]));
  });

  it('gives up when more than a quarter of the pods arrived (a fresh index is cheaper)', () => {
    const filed = new Map([['a', pod('a', 'n', 'x')], ['b', pod('b', 'n', 'x')]]);
    assert.equal(podChanges(new Map([['a', pod('a', 'n', 'x')], ['b', pod('b', 'n', 'x')]]), filed), undefined);
  });
});
