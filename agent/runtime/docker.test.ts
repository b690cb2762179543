import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { DockerRuntime, compareApiVersions, shortName, splitRef } from './docker.ts';
import { frame } from './demux.ts';
import { RuntimeError } from '../../common/errors.ts';

/** A Docker API stand-in on a unix socket that answers as an engine of `apiVersion`. */
async function engine(apiVersion: string, seen: string[]): Promise<{ socket: string; server: Server; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cox-docker-'));
  const socket = path.join(dir, 'docker.sock');
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/version') return res.end(JSON.stringify({ Version: '24.0.7', ApiVersion: apiVersion, Os: 'linux', Arch: 'amd64', KernelVersion: '6.1', Components: [{ Name: 'Engine', Version: '24.0.7' }] }));
    if (url.pathname.endsWith('/containers/json')) return res.end(JSON.stringify([{ Id: 'abc', Names: ['/cox_x'], Labels: { 'io.coxswain.managed': 'true' }, State: 'running' }]));
    if (url.pathname.endsWith('/containers/missing/json')) { res.statusCode = 404; return res.end(JSON.stringify({ message: 'no such container' })); }
    if (url.pathname.endsWith('/containers/create')) { res.statusCode = 409; return res.end(JSON.stringify({ message: 'name "cox_x" is already in use' })); }
    if (url.pathname.endsWith('/containers/abc/logs')) return res.end(Buffer.concat([frame('stdout', 'out\n'), frame('stderr', 'err\n')]));
    if (url.pathname.endsWith('/images/create')) return res.end('{"status":"Pulling"}\n{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n');
    res.statusCode = 500;
    res.end('{"message":"unexpected"}');
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return { socket, server, dir };
}

describe('Docker Engine API client', () => {
  const cases: { name: string; engine: string; prefix: string }[] = [
    { name: 'speaks its own newest version to a newer engine', engine: '1.45', prefix: '/v1.41/' },
    { name: 'lowers the version to what an older engine speaks', engine: '1.40', prefix: '/v1.40/' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const seen: string[] = [];
      const e = await engine(c.engine, seen);
      const rt = new DockerRuntime(e.socket);
      try {
        const list = await rt.listContainers('io.coxswain.managed=true');
        assert.deepEqual(list, [{ id: 'abc', name: 'cox_x', labels: { 'io.coxswain.managed': 'true' }, state: 'running' }]);
        assert.ok(seen[1].startsWith(`GET ${c.prefix}containers/json?all=1&filters=`), seen[1]);
        assert.equal((await rt.version()).runtimeVersion, 'docker://24.0.7');
      } finally {
        await rt.close();
        e.server.close();
        await rm(e.dir, { recursive: true, force: true });
      }
    });
  }

  it('translates failures into RuntimeError naming the operation, the status and the engine message', async () => {
    const e = await engine('1.41', []);
    const rt = new DockerRuntime(e.socket);
    try {
      assert.equal(await rt.inspectContainer('missing'), undefined);
      await assert.rejects(rt.createContainer('cox_x', { Image: 'x', HostConfig: {} }), (err: unknown) => err instanceof RuntimeError && err.data.status === 409 && err.message === 'container runtime: create container cox_x: name "cox_x" is already in use');
      await assert.rejects(rt.pullImage('example/app:2'), (err: unknown) => err instanceof RuntimeError && /pull image example\/app:2: manifest unknown/.test(err.message));
      assert.equal(await text(await rt.logs('abc', { tail: 10 })), 'out\nerr\n');
    } finally {
      await rt.close();
      e.server.close();
      await rm(e.dir, { recursive: true, force: true });
    }
  });

  it('answers list and inspect calls at once while more containers than the API pool has connections wait out their stop', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cox-docker-'));
    const socket = path.join(dir, 'docker.sock');
    const held: (() => void)[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/version') return res.end(JSON.stringify({ Version: '4.3.1', ApiVersion: '1.41', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1', Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] }));
      // A stop answers once the container is gone: here, when the test lets it.
      if (url.pathname.endsWith('/stop')) { held.push(() => { res.statusCode = 204; res.end(); }); return; }
      if (url.pathname.endsWith('/containers/json')) return res.end('[]');
      res.statusCode = 404;
      res.end('{"message":"no such container"}');
    });
    await new Promise<void>((r) => server.listen(socket, r));
    const rt = new DockerRuntime(socket);
    try {
      await rt.version();
      const stops = Array.from({ length: 12 }, (_, i) => rt.stopContainer(`c${i}`, 30));
      const deadline = Date.now() + 5000;
      while (held.length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(held.length, 12, 'every stop reached the engine at once, none queued behind another');
      const t0 = Date.now();
      const calls = Promise.all([rt.listContainers('io.coxswain.managed=true'), rt.inspectContainer('other')]);
      const answered = await Promise.race([calls.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2000).unref())]);
      assert.ok(answered, 'list and inspect were still waiting after 2 s, behind the stops');
      assert.ok(Date.now() - t0 < 2000);
      for (const h of held) h();
      await Promise.all(stops);
    } finally {
      for (const h of held) h();
      await rt.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the socket when the engine cannot be reached', async () => {
    const rt = new DockerRuntime('/nonexistent/docker.sock');
    await assert.rejects(rt.version(), (err: unknown) => err instanceof RuntimeError && /\/nonexistent\/docker\.sock/.test(err.message));
    await rt.close();
  });

  it('compares API versions numerically and splits image references', () => {
    assert.ok(compareApiVersions('1.9', '1.41') < 0);
    assert.deepEqual(splitRef('localhost:5000/app:2'), { name: 'localhost:5000/app', tag: '2' });
    assert.deepEqual(splitRef('busybox'), { name: 'busybox', tag: 'latest' });
    assert.equal(shortName('docker.io/library/busybox:1'), 'busybox:1');
    assert.equal(shortName('localhost/coxswain/busybox:1'), 'coxswain/busybox:1');
  });
});
