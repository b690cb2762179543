/**
 * engine/hosts against real lab hosts (index 4): real sshd, real
 * direct-streamlocal channels, real SFTP, a real agent started as a daemon.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { AgentUnreachable, HostKeyMismatch } from '../../common/errors.ts';
import { labDown, labExec, labSpawn, labUp, type Lab } from '../../engine/lab/index.ts';
import { waitFor } from '../../engine/lab/process.ts';
import { AGENT_ORIGIN, createAgentDispatcher } from '../../engine/hosts/dispatcher.ts';
import { fingerprint, parsePinnedKey } from '../../engine/hosts/host-keys.ts';
import { HostConnection, hostSpecFromNode, loadClientAuth, type ClientAuth, type HostState } from '../../engine/hosts/ssh.ts';

const LAB_INDEX = 4;
const LAB_DIR = '/tmp/cox-lab-4-hosts';

export function nodeManifest(lab: Lab, name: string, hostKeys?: string[]) {
  const node = lab.nodes.find((n) => n.name === name)!;
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { ssh: { address: node.address, port: 22, user: 'root', hostKeys: hostKeys ?? node.hostKeys } } };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Resolves with the first state `connection` reaches that passes `test`, or rejects at the deadline naming what it saw. */
function stateReached(connection: HostConnection, test: (state: HostState) => boolean, timeoutMs: number, what: string): Promise<HostState> {
  if (test(connection.state)) return Promise.resolve(connection.state);
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.off('state', onState);
      reject(new Error(`${connection.name}: ${what} not reached within ${timeoutMs} ms; states seen: ${seen.join(' -> ') || 'none'}`));
    }, timeoutMs);
    const onState = (state: HostState) => {
      seen.push(state.phase);
      if (!test(state)) return;
      clearTimeout(timer);
      connection.off('state', onState);
      resolve(state);
    };
    connection.on('state', onState);
  });
}

describe('hosts over SSH in the lab', function () {
  this.timeout(120_000);
  let lab: Lab;
  let auth: ClientAuth;
  const connections: HostConnection[] = [];
  const dispatchers: Dispatcher[] = [];
  const children: ChildProcess[] = [];

  function connect(name: string, hostKeys?: string[]): HostConnection {
    const connection = new HostConnection(hostSpecFromNode(nodeManifest(lab, name, hostKeys)), auth, {
      keepaliveIntervalMs: 1_000,
      keepaliveCountMax: 3,
      backoff: { initialMs: 100, maxMs: 1_000, factor: 2 },
    });
    connections.push(connection);
    return connection;
  }

  before(async function () {
    this.timeout(180_000);
    lab = await labUp({ name: 'hosts-test', index: LAB_INDEX, nodes: 2, dir: LAB_DIR, images: false });
    auth = await loadClientAuth(lab.clientKeyPath);
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(dispatchers.map((d) => d.close().catch(() => undefined)));
    await Promise.all(connections.map((c) => c.close()));
    for (const child of children) if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    if (lab) await labDown(lab);
  });

  it('connects with the host key pinned in the Node manifest and runs commands on that host', async () => {
    const connection = connect('h1');
    const started = performance.now();
    await connection.ready();
    const connectMs = performance.now() - started;
    assert.equal(connection.state.phase, 'connected');
    assert.equal((await connection.run({ argv: ['hostname'] })).trim(), 'h1');
    assert.equal((await connection.run({ argv: ['printf', '%s', "it's $HOME"] })), "it's $HOME");
    const failed = await connection.exec({ script: 'echo oops >&2; exit 3' });
    assert.deepEqual(failed, { code: 3, stdout: '', stderr: 'oops\n' });
    console.log(`      connect (TCP + handshake + auth) to h1: ${connectMs.toFixed(1)} ms`);
  });

  it('refuses a host whose key is not the pinned one, with both fingerprints, and sends it nothing', async () => {
    const h1 = lab.nodes.find((n) => n.name === 'h1')!;
    const h2 = lab.nodes.find((n) => n.name === 'h2')!;
    // h1 is pinned to h2's key: exactly what a man in the middle (or a re-installed host) looks like.
    const connection = connect('h1', h2.hostKeys);
    const expected = fingerprint(parsePinnedKey(h2.hostKeys[0], 'x').blob);
    const got = fingerprint(parsePinnedKey(h1.hostKeys[0], 'x').blob);
    await assert.rejects(connection.ready(), (err: unknown) => {
      assert.ok(err instanceof HostKeyMismatch);
      assert.equal(err.message, `host key mismatch for h1: expected ${expected}, got ${got}`);
      return true;
    });
    assert.equal(connection.state.phase, 'hostKeyMismatch');
    await assert.rejects(connection.openStreamLocal('/run/coxswain/agent.sock'), HostKeyMismatch);
    await connection.close();
  });

  it('reaches an HTTP server on a unix socket inside the host through a direct-streamlocal channel, with no TCP port', async () => {
    const server = labSpawn(lab, 'h1', ['node', '-e', [
      "const fs = require('fs'); fs.mkdirSync('/run/coxswain', { recursive: true }); try { fs.unlinkSync('/run/coxswain/agent.sock'); } catch {}",
      "require('http').createServer((q, s) => { let n = 0; q.on('data', (d) => n += d.length); q.on('end', () => s.end(JSON.stringify({ host: require('os').hostname(), method: q.method, url: q.url, bytes: n }))); }).listen('/run/coxswain/agent.sock');",
    ].join('\n')]);
    children.push(server);
    await waitFor('h1: test server on /run/coxswain/agent.sock', async () => (await labExec(lab, 'h1', ['test', '-S', '/run/coxswain/agent.sock'])).code === 0, 15_000, 50);
    const connection = connect('h1');
    await connection.ready();
    const dispatcher = createAgentDispatcher(connection);
    dispatchers.push(dispatcher);

    const first = await request(`${AGENT_ORIGIN}/v1/version`, { dispatcher });
    assert.deepEqual(await first.body.json(), { host: 'h1', method: 'GET', url: '/v1/version', bytes: 0 });
    const put = await request(`${AGENT_ORIGIN}/v1/desired`, { dispatcher, method: 'PUT', body: Buffer.alloc(2_000_000, 'x') });
    assert.deepEqual(await put.body.json(), { host: 'h1', method: 'PUT', url: '/v1/desired', bytes: 2_000_000 });
    const parallel = await Promise.all(Array.from({ length: 8 }, (_, i) => request(`${AGENT_ORIGIN}/n/${i}`, { dispatcher }).then((r) => r.body.json() as Promise<{ url: string }>)));
    assert.deepEqual(parallel.map((r) => r.url), Array.from({ length: 8 }, (_, i) => `/n/${i}`));

    const rtts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      await (await request(`${AGENT_ORIGIN}/v1/version`, { dispatcher })).body.text();
      rtts.push(performance.now() - started);
    }
    console.log(`      request round trip through the channel: median ${median(rtts).toFixed(2)} ms over ${rtts.length}`);

    const listeners = await labExec(lab, 'h1', ['sh', '-c', 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk \'$4 == "0A" { print $2 }\'']);
    assert.deepEqual(listeners.stdout.trim().split('\n').filter(Boolean).map((l) => parseInt(l.split(':')[1], 16)).filter((port) => port !== 22), [], 'only sshd listens on TCP');

    const nowhere = createAgentDispatcher(connection, { socketPath: '/run/coxswain/missing.sock' });
    dispatchers.push(nowhere);
    await assert.rejects(request(`${AGENT_ORIGIN}/v1/version`, { dispatcher: nowhere }), (err: unknown) => {
      assert.ok(err instanceof AgentUnreachable);
      assert.equal(err.message, 'agent on h1 unreachable: cannot open /run/coxswain/missing.sock: nothing listens on it');
      return true;
    });
  });

  it('reconnects by itself after sshd on the host is restarted, saying why it was disconnected', async () => {
    const connection = connect('h2');
    await connection.ready();
    const config = `${lab.nodes.find((n) => n.name === 'h2')!.hostDir}/sshd_config`;
    const log = `${lab.nodes.find((n) => n.name === 'h2')!.hostDir}/sshd.log`;
    const down = stateReached(connection, (s) => s.phase === 'reconnecting', 15_000, 'reconnecting');
    // Every sshd process of this lab host (the listener and our session), by PID, inside the host's own PID namespace.
    const pids = (await labExec(lab, 'h2', ['pgrep', '-x', 'sshd'])).stdout.trim().split('\n').filter(Boolean);
    assert.ok(pids.length >= 2, `expected the listener and a session, got PIDs ${pids.join(', ')}`);
    await labExec(lab, 'h2', ['kill', '-TERM', ...pids]);
    const reconnecting = await down;
    assert.equal(reconnecting.phase, 'reconnecting');
    if (reconnecting.phase === 'reconnecting') assert.match(reconnecting.error.message, /^agent on h2 unreachable: /);
    const refused = await stateReached(connection, (s) => s.phase === 'reconnecting' && /connection refused/.test(s.error.message), 15_000, 'connection refused');
    if (refused.phase === 'reconnecting') assert.equal(refused.error.message, `agent on h2 unreachable: connection refused by ${lab.nodes[1].address}:22 (is sshd running?)`);
    const restarted = performance.now();
    assert.equal((await labExec(lab, 'h2', ['/usr/sbin/sshd', '-f', config, '-E', log])).code, 0);
    await stateReached(connection, (s) => s.phase === 'connected', 15_000, 'connected again');
    console.log(`      reconnected ${(performance.now() - restarted).toFixed(0)} ms after sshd came back`);
    assert.equal((await connection.run({ argv: ['hostname'] })).trim(), 'h2');
  });
});
