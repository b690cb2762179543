import assert from 'node:assert/strict';
import { AgentUnreachable, ConfigError } from '../../common/errors.ts';
import { HostManager, type HostEvent } from './manager.ts';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJhCAuqinuZa3LemcJ+7ceg5Z+1jDPMs6cYN8JkRLbw9';
const OTHER_KEY = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLRCzRi6LZzhOEVTAXO19jj68Gl6Bc2EOmlCTOdW6JT5gQe3qNqyHz5kIeht2bqq3faOa4PMh22VvpQrWQ8anyY=';

function node(name: string, ssh: Record<string, unknown>) {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { ssh } };
}

// Connections go to a closed port on loopback: they are made and retried, never succeed.
const CLOSED = { address: '127.0.0.1', port: 9 };

describe('HostManager', () => {
  let manager: HostManager;
  let events: HostEvent[];
  beforeEach(() => {
    manager = new HostManager({ auth: { kind: 'agent', socket: '/nonexistent' }, connection: { backoff: { initialMs: 50, maxMs: 200, factor: 2 } } });
    events = [];
    manager.subscribe((event) => events.push(event));
  });
  afterEach(() => manager.close());

  it('refuses a Node without pinned keys, naming its file and field, and dials nothing', async () => {
    manager.sync([node('h9', { address: '198.18.4.99' })]);
    const reason = "nodes/h9.yaml: spec.ssh.hostKeys of node h9 is empty: pin the host's keys (ssh-keyscan -t ed25519 198.18.4.99) — there is no trust on first use";
    assert.deepEqual(events, [{ type: 'connection', node: 'h9', connection: { state: 'refused', code: 'Config', reason } }]);
    assert.throws(() => manager.connection('h9'), ConfigError);
    await assert.rejects(manager.putDesired('h9', {} as never), (err: unknown) => err instanceof ConfigError && err.message === reason);
  });

  it('says nothing new when the same broken Node is synced again', () => {
    manager.sync([node('h9', { address: '198.18.4.99', port: 70000, hostKeys: [KEY] })]);
    manager.sync([node('h9', { address: '198.18.4.99', port: 70000, hostKeys: [KEY] })]);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], { type: 'connection', node: 'h9', connection: { state: 'refused', code: 'Config', reason: 'nodes/h9.yaml: spec.ssh.port must be a port number (1-65535)' } });
  });

  it('names the manifest file the caller knows in configuration errors', () => {
    const named = new HostManager({ auth: { kind: 'agent', socket: '/nonexistent' }, fileOf: () => 'cluster/nodes/edge-1.yml' });
    const seen: HostEvent[] = [];
    named.subscribe((event) => seen.push(event));
    named.sync([node('edge-1', {})]);
    assert.deepEqual(seen.map((e) => e.type === 'connection' && 'reason' in e.connection && e.connection.reason), ['cluster/nodes/edge-1.yml: spec.ssh.address is required for node edge-1']);
  });

  it('keeps the connection of a Node whose ssh spec did not change, and replaces it when a key changes', async () => {
    manager.sync([node('h1', { ...CLOSED, hostKeys: [KEY] }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'h1' } }]);
    const first = manager.connection('h1');
    manager.sync([node('h1', { ...CLOSED, hostKeys: [KEY], user: 'root' })]);
    assert.equal(manager.connection('h1'), first);
    manager.sync([node('h1', { ...CLOSED, hostKeys: [OTHER_KEY] })]);
    const second = manager.connection('h1');
    assert.notEqual(second, first);
    await waitUntil(() => first.state.phase === 'closed');
    assert.deepEqual(manager.nodes(), ['h1']);
  });

  it('reports a host it cannot reach as unreachable with the reason, and refuses calls meanwhile', async () => {
    manager.sync([node('h1', { ...CLOSED, hostKeys: [KEY] })]);
    await waitUntil(() => events.length > 0);
    assert.deepEqual(events[0], { type: 'connection', node: 'h1', connection: { state: 'unreachable', reason: 'agent on h1 unreachable: connection refused by 127.0.0.1:9 (is sshd running?)' } });
    await assert.rejects(manager.putDesired('h1', {} as never), (err: unknown) => err instanceof AgentUnreachable && err.message === 'agent on h1 unreachable: connection refused by 127.0.0.1:9 (is sshd running?)');
  });

  it('forgets a Node removed from Git and closes its connection', async () => {
    manager.sync([node('h1', { ...CLOSED, hostKeys: [KEY] }), node('h2', { ...CLOSED, hostKeys: [KEY] })]);
    const h1 = manager.connection('h1');
    manager.sync([node('h2', { ...CLOSED, hostKeys: [KEY] })]);
    assert.deepEqual(manager.nodes(), ['h2']);
    await waitUntil(() => h1.state.phase === 'closed');
    await assert.rejects(manager.putDesired('h1', {} as never), (err: unknown) => err instanceof AgentUnreachable && err.message === 'agent on h1 unreachable: no Node of that name in Git');
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
