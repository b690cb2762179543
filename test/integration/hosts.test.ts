/**
 * engine/hosts against real lab hosts (index 4): real sshd, real
 * direct-streamlocal channels, real SFTP, a real agent started as a daemon.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { NodeDesiredState } from '../../common/agent-api.ts';
import { AgentUnreachable, HostKeyMismatch, StaleGeneration } from '../../common/errors.ts';
import { buildAgentBundle } from '../../agent/bundle.ts';
import { bootstrapAgent, daemonRestartScript, DEFAULT_AGENT_PATHS, type AgentBundle } from '../../engine/hosts/bootstrap.ts';
import { HostManager, type HostEvent } from '../../engine/hosts/manager.ts';
import { labExec, labSpawn, type Lab } from '../../engine/lab/index.ts';
import { waitFor } from '../../engine/lab/process.ts';
import { AGENT_ORIGIN, createAgentDispatcher } from '../../engine/hosts/dispatcher.ts';
import { fingerprint, parsePinnedKey } from '../../engine/hosts/host-keys.ts';
import { HostConnection, hostSpecFromNode, loadClientAuth, type ClientAuth, type HostState } from '../../engine/hosts/ssh.ts';

import { labIndex, useLab } from './lab-fixture.ts';

export function nodeManifest(lab: Lab, name: string, hostKeys?: string[]) {
  const node = lab.nodes.find((n) => n.name === name)!;
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { ssh: { address: node.address, port: 22, user: 'root', hostKeys: hostKeys ?? node.hostKeys } } };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * An older agent build for the "replace another build" case: it answers
 * /v1/version with a build of its own and is replaced by the real bundle.
 * It also serves the few endpoints a session needs, so it stays a valid
 * agent for as long as it runs.
 */
export function olderAgent(variant: string): AgentBundle {
  const source = `// an older cox-agent build (${variant}) for test/integration/hosts.test.ts
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
const build = createHash('sha256').update(fs.readFileSync(fileURLToPath(import.meta.url))).digest('hex');
const socket = process.argv[process.argv.indexOf('--socket') + 1];
const stateFile = '/run/coxswain/stand-in-desired.json';
let desired = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) : undefined;
const epoch = Date.now() % 1000000;
let seq = epoch * 1000;
const waiters = new Set();
let heartbeat = new Date().toISOString();
setInterval(() => { heartbeat = new Date().toISOString(); seq += 1; for (const wake of waiters) wake(); }, 500);
const snapshot = () => ({ node: os.hostname(), generation: desired?.generation ?? 0, agent: { version: '0.0.0-stand-in', apiVersion: 'v1', build }, pods: [], heartbeatTime: heartbeat });
const send = (res, status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
fs.mkdirSync('/run/coxswain', { recursive: true });
fs.rmSync(socket, { force: true });
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://agent');
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    if (url.pathname === '/v1/version') return send(res, 200, { version: '0.0.0-stand-in', apiVersion: 'v1', build });
    if (url.pathname === '/v1/desired' && req.method === 'GET') return desired ? send(res, 200, desired) : send(res, 404, { code: 'NotFound', message: 'no desired state accepted yet' });
    if (url.pathname === '/v1/desired' && req.method === 'PUT') {
      const state = JSON.parse(body);
      if (desired && state.generation < desired.generation) return send(res, 409, { code: 'StaleGeneration', message: 'stale', data: { offered: state.generation, accepted: desired.generation } });
      desired = state;
      fs.writeFileSync(stateFile, body);
      return send(res, 200, { generation: state.generation });
    }
    if (url.pathname === '/v1/watch') {
      const since = Number(url.searchParams.get('since'));
      const answer = () => since < epoch * 1000 || since > seq ? send(res, 200, { seq, snapshot: snapshot(), changes: [] }) : send(res, 200, { seq, changes: [{ seq, type: 'heartbeat', time: heartbeat }] });
      if (since < seq || since < epoch * 1000) return answer();
      const wake = () => { waiters.delete(wake); answer(); };
      waiters.add(wake);
      return;
    }
    send(res, 404, { code: 'NotFound', message: req.url });
  });
}).listen(socket);
process.on('SIGTERM', () => process.exit(0));
`;
  const contents = Buffer.from(source);
  return { contents, build: createHash('sha256').update(contents).digest('hex') };
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
  // Registered before the lab's hooks, so it runs before the lab is torn down.
  after(async function () {
    this.timeout(60_000);
    await Promise.all(dispatchers.map((d) => d.close().catch(() => undefined)));
    await Promise.all(connections.map((c) => c.close()));
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  });
  const handle = useLab({ index: labIndex(4), nodes: 2, name: 'hosts-test', images: false, clusterRepo: false });


  function connect(name: string, hostKeys?: string[]): HostConnection {
    const connection = new HostConnection(hostSpecFromNode(nodeManifest(lab, name, hostKeys)), auth, {
      keepaliveIntervalMs: 1_000,
      keepaliveCountMax: 3,
      backoff: { initialMs: 100, maxMs: 1_000, factor: 2 },
    });
    connections.push(connection);
    return connection;
  }

  let agent: AgentBundle;
  before(async function () {
    this.timeout(60_000);
    lab = handle.lab;
    auth = await loadClientAuth(lab.clientKeyPath);
    agent = await buildAgentBundle();
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

    // Channels the server closes (Connection: close, or its keep-alive timeout) must leave the pool: 12 such requests through 2 connections.
    const closing = createAgentDispatcher(connection, { connections: 2 });
    dispatchers.push(closing);
    for (let i = 0; i < 12; i++) {
      const response = await request(`${AGENT_ORIGIN}/closed/${i}`, { dispatcher: closing, headers: { connection: 'close' }, headersTimeout: 10_000 });
      assert.equal(((await response.body.json()) as { url: string }).url, `/closed/${i}`);
    }

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
    server.kill('SIGTERM');
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

  it('bootstraps the real agent over SFTP as a pidfile daemon in place of an older build, then does nothing the second time', async () => {
    const connection = connect('h2');
    await connection.ready();
    const dispatcher = createAgentDispatcher(connection);
    dispatchers.push(dispatcher);
    const older = olderAgent('0.0.1');
    const pidOf = async () => (await labExec(lab, 'h2', ['cat', DEFAULT_AGENT_PATHS.pidFile])).stdout.trim();
    const stamp = async () => (await labExec(lab, 'h2', ['stat', '-c', '%Y.%Z.%i', DEFAULT_AGENT_PATHS.program])).stdout.trim();

    const first = await bootstrapAgent(connection, dispatcher, older);
    assert.equal(first.changed, true);
    assert.match(first.reason, /^no agent answers \(cannot open \/run\/coxswain\/agent\.sock: /);
    const olderPid = await pidOf();

    const upgrade = await bootstrapAgent(connection, dispatcher, agent);
    assert.equal(upgrade.reason, `agent build ${older.build.slice(0, 12)} differs from ${agent.build.slice(0, 12)}`);
    console.log(`      bootstrap replacing another agent build (upload ${agent.contents.length} bytes, restart, wait): ${upgrade.ms} ms`);
    const uploaded = await labExec(lab, 'h2', ['sha256sum', DEFAULT_AGENT_PATHS.program]);
    assert.equal(uploaded.stdout.split(' ')[0], createHash('sha256').update(agent.contents).digest('hex'));
    const pid = await pidOf();
    assert.notEqual(pid, olderPid);
    assert.equal((await labExec(lab, 'h2', ['kill', '-0', olderPid])).code, 1, `the older agent (PID ${olderPid}) is stopped`);
    const cmdline = (await labExec(lab, 'h2', ['cat', `/proc/${pid}/cmdline`])).stdout.split('\0').filter(Boolean);
    assert.deepEqual(cmdline, ['node', DEFAULT_AGENT_PATHS.program, 'serve', '--socket', DEFAULT_AGENT_PATHS.socket]);
    const running = (await labExec(lab, 'h2', ['pgrep', '-f', DEFAULT_AGENT_PATHS.program])).stdout.trim().split('\n');
    assert.deepEqual(running, [pid], 'exactly one agent runs');
    const before = await stamp();

    const again = await bootstrapAgent(connection, dispatcher, agent);
    assert.equal(again.changed, false);
    assert.match(again.reason, new RegExp(`^agent \\S+ build ${agent.build.slice(0, 12)} already runs$`));
    console.log(`      bootstrap of a host that runs the build already: ${again.ms} ms`);
    assert.equal(await stamp(), before, 'no upload the second time');
    assert.equal(await pidOf(), pid, 'no restart the second time');
  });

  it('keeps one agent session per Node: connects, refuses a wrong key, fences stale generations, ships an image and recovers from agent restarts', async () => {
    const h1 = lab.nodes.find((n) => n.name === 'h1')!;
    const h2 = lab.nodes.find((n) => n.name === 'h2')!;
    const manager = new HostManager({
      auth,
      bundle: agent,
      watchTimeoutSeconds: 2,
      connection: { keepaliveIntervalMs: 1_000, backoff: { initialMs: 100, maxMs: 1_000, factor: 2 } },
      sessionBackoff: { initialMs: 100, maxMs: 1_000, factor: 2 },
      onProgress: process.env.COX_LAB_VERBOSE ? (line) => process.stderr.write(`      [hosts] ${line}\n`) : undefined,
    });
    const events: HostEvent[] = [];
    const waitForEvent = (what: string, test: (e: HostEvent) => boolean, timeoutMs = 30_000, from = 0) =>
      waitFor(what, () => events.slice(from).find(test), timeoutMs, 20);
    manager.subscribe((event) => events.push(event));
    if (process.env.COX_LAB_VERBOSE) manager.subscribe((event) => process.stderr.write(`      [event] ${JSON.stringify(event).slice(0, 200)}\n`));
    try {
      // h1 wrongly pinned to h2's key; h2 right.
      manager.sync([nodeManifest(lab, 'h1', h2.hostKeys), nodeManifest(lab, 'h2')]);
      const refused = await waitForEvent('h1 refused', (e) => e.type === 'connection' && e.node === 'h1' && e.connection.state === 'refused');
      assert.deepEqual(refused.type === 'connection' && refused.connection, {
        state: 'refused',
        code: 'HostKeyMismatch',
        reason: `host key mismatch for h1: expected ${fingerprint(parsePinnedKey(h2.hostKeys[0], 'x').blob)}, got ${fingerprint(parsePinnedKey(h1.hostKeys[0], 'x').blob)}`,
      });
      await assert.rejects(manager.putDesired('h1', desired(lab, 'h1', 1)), HostKeyMismatch);

      await waitForEvent('h2 connected', (e) => e.type === 'connected' && e.node === 'h2');
      await waitForEvent('h2 snapshot', (e) => e.type === 'watch' && e.node === 'h2' && Boolean(e.response.snapshot));
      assert.equal(await manager.putDesired('h2', desired(lab, 'h2', 5)), 5);
      await assert.rejects(manager.putDesired('h2', desired(lab, 'h2', 4)), (err: unknown) => err instanceof StaleGeneration && err.message === 'generation 4 is older than the accepted generation 5');
      const beat = manager.lastHeartbeat('h2')!;
      await waitFor('a newer heartbeat from h2', () => manager.lastHeartbeat('h2')! > beat, 5_000);

      // The Node fixed in Git: h1 reconnects with the right key.
      manager.sync([nodeManifest(lab, 'h1'), nodeManifest(lab, 'h2')]);
      await waitForEvent('h1 connected', (e) => e.type === 'connected' && e.node === 'h1');

      // The agent on h2 dies: the session says why, restarts it (bootstrap) and resumes, with the accepted state.
      const mark = events.length;
      const pid = (await labExec(lab, 'h2', ['cat', DEFAULT_AGENT_PATHS.pidFile])).stdout.trim();
      const killedAt = Date.now();
      await labExec(lab, 'h2', ['kill', '-KILL', pid]);
      const lost = await waitForEvent('h2 unreachable', (e) => e.type === 'connection' && e.node === 'h2' && e.connection.state === 'unreachable', 15_000, mark);
      assert.match(lost.type === 'connection' && lost.connection.state === 'unreachable' ? lost.connection.reason : '', /^agent on h2 unreachable: /);
      await waitForEvent('h2 connected again', (e) => e.type === 'connected' && e.node === 'h2', 45_000, mark);
      assert.ok(Date.now() - killedAt >= 10_000, 'the agent got its grace time (10 s by default) before being replaced');
      assert.deepEqual(manager.status('h2'), { state: 'connected' });
      // The restarted agent kept what it had accepted (it may answer before it has loaded it: see the report).
      await waitFor('h2 answering generation 5 after its restart', async () => (await manager.api('h2').getDesired())?.generation === 5, 10_000, 100);
      await waitForEvent('a watch answer from the restarted agent', (e) => e.type === 'watch' && e.node === 'h2', 10_000, mark);

      // Someone else restarts the agent (an operator, the e2e suite): the manager waits for it instead of replacing it.
      const mark2 = events.length;
      assert.equal((await labExec(lab, 'h2', ['sh', '-c', daemonRestartScript(DEFAULT_AGENT_PATHS)])).code, 0);
      const restartedPid = (await labExec(lab, 'h2', ['cat', DEFAULT_AGENT_PATHS.pidFile])).stdout.trim();
      await waitForEvent('h2 connected after the restart by someone else', (e) => e.type === 'connected' && e.node === 'h2', 30_000, mark2);
      assert.equal((await labExec(lab, 'h2', ['cat', DEFAULT_AGENT_PATHS.pidFile])).stdout.trim(), restartedPid);
      assert.equal((await labExec(lab, 'h2', ['kill', '-0', restartedPid])).code, 0, 'the agent someone else started still runs');

      // An image shipped over SSH without a registry: a root filesystem tar streamed through the channel to the agent.
      const rootfs = mkdtempSync(join(tmpdir(), 'cox-hosts-rootfs-'));
      try {
        writeFileSync(join(rootfs, 'hello.txt'), 'shipped over ssh\n');
        const tar = execFileSync('tar', ['-C', rootfs, '-c', '.']);
        assert.deepEqual(await manager.loadImage('h2', Readable.from([tar]), 'coxswain/hosts-test:1'), ['coxswain/hosts-test:1']);
        assert.equal((await labExec(lab, 'h2', ['podman', 'image', 'exists', 'coxswain/hosts-test:1'])).code, 0);
      } finally {
        rmSync(rootfs, { recursive: true, force: true });
      }

      // h1 removed from Git: its connection is closed.
      const h1Connection = manager.connection('h1');
      manager.sync([nodeManifest(lab, 'h2')]);
      assert.deepEqual(manager.nodes(), ['h2']);
      await waitFor('h1 connection closed', () => h1Connection.state.phase === 'closed', 5_000);
    } finally {
      await manager.close();
    }
  });
});

function desired(lab: Lab, node: string, generation: number): NodeDesiredState {
  const { address, podCIDR } = lab.nodes.find((n) => n.name === node)!;
  return { generation, node, nodeAddress: address, podCIDR, clusterCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24', proxyMode: 'nftables', pods: [], services: [], routes: [] };
}
