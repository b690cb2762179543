import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { AgentDaemon } from './daemon.ts';
import { createAgentServer, listenUnix } from './server.ts';
import { AgentClient } from './client.ts';
import { FakeRuntime } from './runtime/fake.ts';
import { AgentRequestError, ConfigError, StaleGeneration } from '../common/errors.ts';
import type { NodeDesiredState } from '../common/agent-api.ts';

function desired(generation: number, pods: NodeDesiredState['pods'] = []): NodeDesiredState {
  return { generation, node: 'h1', nodeAddress: '198.18.2.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24', proxyMode: 'nftables', pods, services: [], routes: [{ cidr: '100.64.2.0/24', via: '198.18.2.12' }] };
}

describe('agent HTTP API on a unix socket', () => {
  let dir: string;
  let socket: string;
  let server: Server;
  let daemon: AgentDaemon;
  let client: AgentClient;
  const commands: string[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cox-agent-api-'));
    socket = path.join(dir, 'run', 'agent.sock');
    const runtime = new FakeRuntime();
    daemon = new AgentDaemon({
      runtime, stateDir: path.join(dir, 'state'), log: () => undefined, diskPath: dir,
      networkExec: async (argv) => { commands.push(argv.join(' ')); return argv.includes('-j') ? '[]' : ''; },
      proxierFactory: async () => ({ mode: 'nftables', sync: async () => ({ mode: 'nftables', services: [] }), cleanup: async () => undefined }),
    });
    await daemon.start();
    server = createAgentServer(daemon, runtime);
    await listenUnix(server, socket);
    client = AgentClient.local(socket, 'h1');
  });
  after(async () => {
    await client.close();
    server.close();
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens with mode 0600 and refuses to start a second server on a live socket', async () => {
    assert.equal((await stat(socket)).mode & 0o777, 0o600);
    await assert.rejects(listenUnix(createAgentServer(daemon, new FakeRuntime()), socket), (e: unknown) => e instanceof ConfigError && /another agent is serving/.test(e.message));
  });

  it('answers its version with the API version and build', async () => {
    assert.deepEqual(await client.version(), { version: '0.1.0', apiVersion: 'v1', build: 'dev' });
  });

  it('reports no desired state before the first PUT', async () => {
    assert.equal(await client.getDesired(), undefined);
  });

  it('accepts a desired state, persists it and converges the pod network to it', async () => {
    assert.equal(await client.putDesired(desired(5)), 5);
    assert.equal((await client.getDesired())?.generation, 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(commands.includes('ip route replace 100.64.2.0/24 via 198.18.2.12 proto 147'), commands.join('\n'));
  });

  it('refuses an older generation with 409 StaleGeneration', async () => {
    await assert.rejects(client.putDesired(desired(4)), (e: unknown) => e instanceof StaleGeneration && e.data.accepted === 5 && e.data.offered === 4);
  });

  it('refuses a malformed desired state with 400 naming the field', async () => {
    const bad = { ...desired(6), pods: [{ uid: 'u', name: 'p', namespace: 'default', spec: { containers: [] } }] };
    await assert.rejects(client.putDesired(bad as unknown as NodeDesiredState), (e: unknown) => e instanceof AgentRequestError && e.code === 'BadRequest' && /pods\[0\]\.spec\.containers/.test(e.message));
  });

  it('streams the pod status of a new PUT to a long-poll that waits from the current sequence number', async () => {
    const { seq } = await client.observed();
    const waiting = client.watch(seq, 10);
    await client.putDesired(desired(7, [{ uid: 'uid-1', name: 'web', namespace: 'default', spec: { containers: [{ name: 'app', image: 'coxswain/busybox:1' }] } }]));
    const w = await waiting;
    assert.equal(w.snapshot, undefined);
    assert.ok(w.changes.some((c) => c.type === 'pod' && c.pod.name === 'web'), JSON.stringify(w.changes));
  });

  it('answers 404 NotFound for the logs of a pod it does not run', async () => {
    await assert.rejects(client.logs('default', 'nope'), (e: unknown) => e instanceof AgentRequestError && e.code === 'NotFound' && /default\/nope/.test(e.message));
  });

  it('serves Prometheus text with the accepted generation', async () => {
    assert.match(await client.metrics(), /^coxswain_agent_desired_generation 7$/m);
  });
});
