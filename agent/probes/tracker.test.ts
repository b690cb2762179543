import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProbeTracker, timingOf, type ProbeKind } from './tracker.ts';
import { check } from './check.ts';
import type { ContainerRuntime } from '../runtime/types.ts';

function run(kind: ProbeKind, probe: Parameters<typeof timingOf>[0], outcomes: boolean[], stepMs = 1000): { results: string[]; ranAt: number[] } {
  const t = new ProbeTracker(kind, timingOf(probe), 0);
  const results: string[] = [];
  const ranAt: number[] = [];
  let i = 0;
  for (let now = 0; i < outcomes.length && now < 1_000_000; now += stepMs) {
    if (!t.due(now)) continue;
    t.started(now);
    ranAt.push(now);
    t.record(outcomes[i++], 'boom');
    results.push(t.result);
  }
  return { results, ranAt };
}

describe('probe tracker', () => {
  it('does not probe before initialDelaySeconds, then every periodSeconds', () => {
    assert.deepEqual(run('readiness', { initialDelaySeconds: 3, periodSeconds: 2 }, [true, true, true]).ranAt, [3000, 5000, 7000]);
  });
  it('makes readiness start as failure and turn success after successThreshold successes', () => {
    const t = new ProbeTracker('readiness', timingOf({ successThreshold: 2 }), 0);
    assert.equal(t.result, 'failure');
    assert.deepEqual(run('readiness', { successThreshold: 2, periodSeconds: 1 }, [true, true]).results, ['failure', 'success']);
  });
  it('makes liveness fail only after failureThreshold consecutive failures', () => {
    assert.deepEqual(run('liveness', { failureThreshold: 3, periodSeconds: 1 }, [false, false, true, false, false, false]).results, ['success', 'success', 'success', 'success', 'success', 'failure']);
  });
  it('starts a startup probe as unknown and lets one success end it', () => {
    assert.deepEqual(run('startup', { periodSeconds: 1 }, [false, true]).results, ['unknown', 'success']);
  });
  it('never starts a second check while one is in flight', () => {
    const t = new ProbeTracker('readiness', timingOf({ periodSeconds: 1 }), 0);
    t.started(0);
    assert.equal(t.due(5000), false);
    t.record(true, '');
    assert.equal(t.due(5000), true);
  });
});

describe('probe checks', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => { res.statusCode = req.url === '/healthz' ? 200 : req.url === '/moved' ? 302 : 500; res.end(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const fakeRuntime = { exec: async (_id: string, cmd: string[]) => ({ exitCode: cmd[0] === 'true' ? 0 : 1, stdout: '', stderr: 'nope' }) } as unknown as ContainerRuntime;
  const target = (p: number) => ({ podIP: '127.0.0.1', containerId: 'c1', container: { name: 'app', image: 'coxswain/busybox:1', ports: [{ name: 'http', containerPort: p }] }, runtime: fakeRuntime, timeoutMs: 1000 });
  const cases: { name: string; probe: () => Parameters<typeof check>[0]; ok: boolean; message?: RegExp }[] = [
    { name: 'an httpGet answered 200 succeeds', probe: () => ({ httpGet: { path: '/healthz', port } }), ok: true },
    { name: 'an httpGet answered 302 succeeds', probe: () => ({ httpGet: { path: '/moved', port } }), ok: true },
    { name: 'an httpGet answered 500 fails with the status code', probe: () => ({ httpGet: { path: '/', port } }), ok: false, message: /statuscode: 500/ },
    { name: 'an httpGet to a named port resolves it from the container ports', probe: () => ({ httpGet: { path: '/healthz', port: 'http' } }), ok: true },
    { name: 'a tcpSocket to a listening port succeeds', probe: () => ({ tcpSocket: { port } }), ok: true },
    { name: 'a tcpSocket to a closed port fails naming the address', probe: () => ({ tcpSocket: { port: 1 } }), ok: false, message: /127\.0\.0\.1:1/ },
    { name: 'an exec exiting 0 succeeds', probe: () => ({ exec: { command: ['true'] } }), ok: true },
    { name: 'an exec exiting 1 fails with its output', probe: () => ({ exec: { command: ['false'] } }), ok: false, message: /exited with 1: nope/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await check(c.probe(), target(port));
      assert.equal(r.ok, c.ok, r.message);
      if (c.message) assert.match(r.message, c.message);
    });
  }
});
