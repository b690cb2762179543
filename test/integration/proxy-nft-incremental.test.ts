/**
 * The incremental nft scripts, checked against the kernel: after every step
 * of a sequence of desired states, the table an incrementally syncing
 * proxier built must equal the table a fresh proxier builds in one full sync
 * of the same state. Two scratch network namespaces; no lab needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CommandExecutor, NftablesProxier } from '../../agent/proxy/index.ts';
import { NftSession } from '../../agent/proxy/nft-session.ts';
import type { DesiredService } from '../../common/agent-api.ts';

const INCREMENTAL_NS = 'coxproxy3-inc';
const FULL_NS = 'coxproxy3-full';
const CTX = { nodeAddress: '198.18.3.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16' };

function svc(name: string, vip: string, endpoints: string[], extra: { nodePort?: number; protocol?: 'TCP' | 'UDP'; port?: number; affinity?: number } = {}): DesiredService {
  return {
    namespace: 'default',
    name,
    type: extra.nodePort ? 'NodePort' : 'ClusterIP',
    clusterIP: vip,
    sessionAffinity: extra.affinity ? 'ClientIP' : 'None',
    sessionAffinityTimeoutSeconds: extra.affinity,
    ports: [{ name: (extra.protocol ?? 'TCP').toLowerCase(), protocol: extra.protocol ?? 'TCP', port: extra.port ?? 80, nodePort: extra.nodePort, endpoints: endpoints.map((ip) => ({ ip, port: 8080 })) }],
  };
}

const A = '100.64.1.2';
const B = '100.64.2.2';
const C = '100.64.1.3';

const STEPS: Array<{ name: string; services: DesiredService[] }> = [
  { name: 'two Services, one a NodePort', services: [svc('web', '100.127.0.10', [A, B], { nodePort: 30080 }), svc('api', '100.127.0.11', [C])] },
  { name: 'an endpoint added (a new endpoint count)', services: [svc('web', '100.127.0.10', [A, B, C], { nodePort: 30080 }), svc('api', '100.127.0.11', [C])] },
  { name: 'an endpoint replaced', services: [svc('web', '100.127.0.10', [A, B, '100.64.2.9'], { nodePort: 30080 }), svc('api', '100.127.0.11', [C])] },
  { name: 'the last endpoint gone', services: [svc('web', '100.127.0.10', [A, B, '100.64.2.9'], { nodePort: 30080 }), svc('api', '100.127.0.11', [])] },
  { name: 'endpoints back, and a UDP port on the same VIP and port', services: [svc('web', '100.127.0.10', [A], { nodePort: 30080 }), svc('api', '100.127.0.11', [C, A]), svc('dns', '100.127.0.11', [B], { protocol: 'UDP' })] },
  { name: 'ClientIP affinity switched on', services: [svc('web', '100.127.0.10', [A, B], { nodePort: 30080, affinity: 60 }), svc('api', '100.127.0.11', [C, A]), svc('dns', '100.127.0.11', [B], { protocol: 'UDP' })] },
  { name: 'an endpoint of the sticky Service removed', services: [svc('web', '100.127.0.10', [B], { nodePort: 30080, affinity: 60 }), svc('api', '100.127.0.11', [C, A]), svc('dns', '100.127.0.11', [B], { protocol: 'UDP' })] },
  { name: 'affinity off, NodePort dropped, VIP moved', services: [svc('web', '100.127.0.20', [B, C]), svc('api', '100.127.0.11', [C, A]), svc('dns', '100.127.0.11', [B], { protocol: 'UDP' })] },
  { name: 'a Service deleted and a headless one added', services: [svc('web', '100.127.0.20', [B, C]), { ...svc('db', '100.127.0.30', [A]), clusterIP: 'None' }] },
  { name: 'a Service with 20 endpoints (past the preset lb chains: a full sync)', services: [svc('web', '100.127.0.20', Array.from({ length: 20 }, (_, i) => `100.64.3.${i + 1}`))] },
  { name: 'nothing at all', services: [] },
];

function netns(verb: 'add' | 'del', name: string): void {
  spawnSync('ip', ['netns', verb, name]);
}

/** The table as comparable lines: objects and rules without handles, map elements one per line and sorted, unreferenced lb chains dropped. */
function tableOf(ns: string): string[] {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'ip', 'cox_proxy'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const items = (JSON.parse(r.stdout) as { nftables: Array<Record<string, Record<string, unknown>>> }).nftables;
  const lines: string[] = [];
  const referenced = new Set<string>();
  for (const item of items) {
    const [kind, body] = Object.entries(item)[0];
    if (kind === 'set' || kind === 'map') {
      for (const e of (body.elem as unknown[]) ?? []) {
        const text = JSON.stringify(e);
        for (const m of text.matchAll(/"goto":\{"target":"(lb-[^"]+)"/g)) referenced.add(m[1]);
        lines.push(`${kind} ${body.name} element ${text}`);
      }
      const { handle, elem, ...rest } = body;
      lines.push(`${kind} ${JSON.stringify(rest)}`);
    } else if (kind === 'chain') {
      const { handle, ...rest } = body;
      lines.push(`chain ${JSON.stringify(rest)}`);
    } else if (kind === 'rule') {
      const { handle, ...rest } = body;
      lines.push(`rule ${body.chain} ${JSON.stringify(rest.expr)}`);
    }
  }
  const isUnusedLb = (line: string) => {
    const m = line.match(/^(?:chain .*"name":"|rule )(lb-[a-z]+-\d+)/);
    return m !== null && !referenced.has(m[1]);
  };
  return lines.filter((l) => !isUnusedLb(l)).sort();
}

describe('incremental nft syncs against the kernel', function () {
  this.timeout(120000);
  const incremental = new NftablesProxier(new CommandExecutor(['ip', 'netns', 'exec', INCREMENTAL_NS]));

  before(function () {
    for (const ns of [INCREMENTAL_NS, FULL_NS]) {
      netns('del', ns); // left by a crashed earlier run
      netns('add', ns);
    }
  });

  after(function () {
    for (const ns of [INCREMENTAL_NS, FULL_NS]) netns('del', ns);
  });

  STEPS.forEach((step, i) => {
    it(`leaves the same table as a full sync after step ${i + 1}: ${step.name}`, async function () {
      await incremental.sync(step.services, CTX);
      assert.equal(incremental.lastSync!.full, i === 0 || step.name.includes('a full sync'), 'only the first sync, and one needing a new lb chain, is a full one');
      await new NftablesProxier(new CommandExecutor(['ip', 'netns', 'exec', FULL_NS])).sync(step.services, CTX);
      assert.deepEqual(tableOf(INCREMENTAL_NS), tableOf(FULL_NS));
    });
  });

  it('applies changes through one long-lived nft, and after that process is killed resyncs the whole table through a new one', async function () {
    const steps = STEPS.slice(0, 3).map((s) => s.services);
    await incremental.sync(steps[0], CTX);
    await incremental.sync(steps[1], CTX);
    const pid = incremental.sessionPid;
    assert.ok(pid, 'an incremental sync started an nft session');
    await incremental.sync(steps[2], CTX);
    assert.equal(incremental.lastSync!.full, false);
    assert.equal(incremental.sessionPid, pid, 'the next change went through the same nft process');

    process.kill(pid, 'SIGKILL');
    await waitFor(() => incremental.sessionPid === undefined, 5000, `the proxier to see nft ${pid} gone`);
    await incremental.sync(steps[1], CTX);
    assert.equal(incremental.lastSync!.full, true, 'the sync after the session died is a full one');
    await incremental.sync(steps[2], CTX);
    assert.equal(incremental.lastSync!.full, false);
    assert.ok(incremental.sessionPid && incremental.sessionPid !== pid, 'a new nft session took over');
    await new NftablesProxier(new CommandExecutor(['ip', 'netns', 'exec', FULL_NS])).sync(steps[2], CTX);
    assert.deepEqual(tableOf(INCREMENTAL_NS), tableOf(FULL_NS));
    await incremental.cleanup();
    assert.equal(incremental.sessionPid, undefined, 'cleanup ends the session');
  });
});

describe('the nft session against the kernel', function () {
  const NS = 'coxproxy3-session';

  before(function () {
    netns('del', NS);
    netns('add', NS);
  });

  after(function () {
    netns('del', NS);
  });

  it("applies a script as one transaction: when its last command fails, nothing of it stays, nft's error is reported, and the session goes on", async function () {
    const session = new NftSession(new CommandExecutor(['ip', 'netns', 'exec', NS]));
    try {
      await session.apply('add table ip t\nadd set ip t s { type ipv4_addr; }\nadd element ip t s { 10.0.0.1 }\n');
      await assert.rejects(session.apply('add element ip t s { 10.0.0.2 }\nadd element ip t nosuch { 10.0.0.3 }\n'), /No such file or directory/);
      await session.apply('add element ip t s { 10.0.0.4 }\n');
      const r = spawnSync('ip', ['netns', 'exec', NS, 'nft', 'list', 'set', 'ip', 't', 's'], { encoding: 'utf8' });
      assert.match(r.stdout, /elements = \{ 10\.0\.0\.1, 10\.0\.0\.4 \}/);
    } finally {
      session.close();
    }
  });
});

async function waitFor(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
