/**
 * The nftables proxier for real: two lab hosts (index 3), busybox pods under
 * podman on each, host-gw routes between them, the proxier programming each
 * host's kernel exactly as the agent would.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { labDown, labExec, labUp, type Lab } from '../../engine/lab/index.ts';
import { NftablesProxier } from '../../agent/proxy/index.ts';
import type { ProxyContext } from '../../agent/proxy/index.ts';
import type { DesiredService } from '../../common/agent-api.ts';
import { labIndex } from './lab-fixture.ts';
import { LabExecutor, answers, httpGet, must, service, startClientPod, startUdpPod, startWebPod, udpAsk } from './proxy-lab.ts';

const LAB_INDEX = labIndex(3);
const LAB_DIR = resolve(import.meta.dirname, `../../.lab/proxy-nft-${LAB_INDEX}`);
const CLUSTER_CIDR = '100.64.0.0/16';
const WEB = '100.127.0.10';
const SELF = '100.127.0.11';
const EMPTY = '100.127.0.12';
const STICKY = '100.127.0.13';
const DNS = '100.127.0.53';

describe('nftables proxier in the lab', function () {
  this.timeout(240000);
  let lab: Lab;
  const proxiers = new Map<string, NftablesProxier>();
  const ctx = new Map<string, ProxyContext>();
  let podA = ''; // web pod on h1
  let podB = ''; // web pod on h2
  let udpA = ''; // UDP pod on h1
  let udpB = ''; // UDP pod on h2

  async function syncAll(services: DesiredService[]): Promise<void> {
    for (const [node, proxier] of proxiers) await proxier.sync(services, ctx.get(node)!);
  }

  function baseServices(): DesiredService[] {
    return [
      service('web', WEB, [podA, podB], { nodePort: 30080 }),
      service('self', SELF, [podA]),
      service('empty', EMPTY, [], { nodePort: 30081 }),
      service('sticky', STICKY, [podA, podB], { sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 300 }),
      { namespace: 'default', name: 'dns', type: 'ClusterIP', clusterIP: DNS, ports: [{ name: 'dns', protocol: 'UDP', port: 53, endpoints: [{ ip: udpA, port: 5353 }, { ip: udpB, port: 5353 }] }] },
      { namespace: 'default', name: 'headless', type: 'ClusterIP', clusterIP: 'None', ports: [{ protocol: 'TCP', port: 80, endpoints: [{ ip: '100.64.1.99', port: 80 }] }] },
    ];
  }

  before(async function () {
    lab = await labUp({ name: 'proxy-nft', index: LAB_INDEX, nodes: 2, dir: LAB_DIR, clusterRepo: false, onProgress: (l) => process.stderr.write(`      ${l}\n`) });
    for (const node of lab.nodes) {
      for (const peer of lab.nodes.filter((p) => p !== node)) await must(lab, node.name, ['ip', 'route', 'replace', peer.podCIDR, 'via', peer.address]);
      proxiers.set(node.name, new NftablesProxier(new LabExecutor(lab, node.name)));
      ctx.set(node.name, { nodeAddress: node.address, podCIDR: node.podCIDR, clusterCIDR: CLUSTER_CIDR });
    }
    podA = await startWebPod(lab, 'h1', 'web-a', 'h1-web-a');
    podB = await startWebPod(lab, 'h2', 'web-b', 'h2-web-b');
    await startClientPod(lab, 'h1', 'client');
    udpA = await startUdpPod(lab, 'h1', 'udp-a', 'h1-udp-a');
    udpB = await startUdpPod(lab, 'h2', 'udp-b', 'h2-udp-b');
    await syncAll(baseServices());
  });

  after(async function () {
    if (lab) await labDown(lab);
  });

  it('reaches a ClusterIP from a host and round-robins across backends on two hosts', async function () {
    for (const node of ['h1', 'h2']) {
      const seen = await answers(lab, node, `http://${WEB}/`, 6);
      assert.deepEqual(new Set(seen), new Set(['h1-web-a', 'h2-web-b']), `${node} saw ${seen.join(', ')}`);
    }
  });

  it('reaches a ClusterIP from a pod and round-robins across backends on two hosts', async function () {
    const seen = await answers(lab, 'h1', `http://${WEB}/`, 6, 'client');
    assert.deepEqual(new Set(seen), new Set(['h1-web-a', 'h2-web-b']), `the client pod saw ${seen.join(', ')}`);
  });

  it('serves a NodePort on the node address, to endpoints on both hosts, from another host', async function () {
    const h1 = lab.nodes.find((n) => n.name === 'h1')!;
    const seen = await answers(lab, 'h2', `http://${h1.address}:30080/`, 6);
    assert.deepEqual(new Set(seen), new Set(['h1-web-a', 'h2-web-b']), `h2 saw ${seen.join(', ')} on h1's NodePort`);
  });

  it('lets a pod reach itself through its own Service (hairpin)', async function () {
    const seen = await answers(lab, 'h1', `http://${SELF}/`, 2, 'web-a');
    assert.deepEqual(seen, ['h1-web-a', 'h1-web-a']);
  });

  it('balances a UDP ClusterIP across pods on two hosts', async function () {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await udpAsk(lab, 'h2', DNS, 53));
    assert.deepEqual(new Set(seen), new Set(['h1-udp-a', 'h2-udp-b']), `h2 got ${seen.join(', ')}`);
  });

  it('keeps a client on one endpoint when sessionAffinity is ClientIP', async function () {
    const seen = await answers(lab, 'h2', `http://${STICKY}/`, 5);
    assert.equal(new Set(seen).size, 1, `h2 saw ${seen.join(', ')}`);
    assert.match(seen[0], /^h[12]-web-[ab]$/);
  });

  it('rejects a Service without endpoints at once, from a host and from a pod, on its ClusterIP and its NodePort', async function () {
    const h1 = lab.nodes.find((n) => n.name === 'h1')!;
    for (const [node, url, pod] of [['h1', `http://${EMPTY}/`, undefined], ['h1', `http://${EMPTY}/`, 'client'], ['h2', `http://${h1.address}:30081/`, undefined]] as const) {
      const a = await httpGet(lab, node, url, pod);
      assert.equal(a.ok, false, `${url} from ${pod ?? node} answered ${a.body}`);
      assert.match(a.error, /refused/i, `${url} from ${pod ?? node}: ${a.error}`);
      assert.ok(a.ms < 2000, `${url} from ${pod ?? node} took ${Math.round(a.ms)} ms to fail`);
    }
  });

  it('programmes nothing for a headless Service', async function () {
    const table = await must(lab, 'h1', ['nft', 'list', 'table', 'ip', 'cox_proxy']);
    assert.doesNotMatch(table, /headless|100\.64\.1\.99/);
  });

  it('sends traffic only to the remaining endpoint right after one sync removes the other, touching no other Service', async function () {
    const chainHandles = async () => must(lab, 'h1', ['nft', '-a', 'list', 'chain', 'ip', 'cox_proxy', (await must(lab, 'h1', ['nft', 'list', 'table', 'ip', 'cox_proxy'])).match(/chain (svc-\S+default\/sticky\S*)/)![1]]);
    const selfBefore = await chainHandles();
    const services = baseServices();
    services[0] = service('web', WEB, [podB], { nodePort: 30080 });
    await syncAll(services);
    const report = proxiers.get('h1')!.lastSync!;
    assert.equal(report.full, false);
    assert.equal(report.changed, 1);
    const seen = await answers(lab, 'h1', `http://${WEB}/`, 4);
    assert.deepEqual(seen, ['h2-web-b', 'h2-web-b', 'h2-web-b', 'h2-web-b']);
    assert.equal(await chainHandles(), selfBefore, "an unchanged Service's chain (its rules, handles and counters) stayed as it was");
  });

  it('sends a UDP client that keeps its source port to the remaining endpoint once its own is removed: the stale conntrack entry is flushed', async function () {
    const SOURCE_PORT = 40053; // one 5-tuple throughout: without the flush its conntrack entry keeps the removed endpoint
    const first = await udpAsk(lab, 'h2', DNS, 53, SOURCE_PORT);
    assert.match(first, /^h[12]-udp-[ab]$/, `the first datagram got ${JSON.stringify(first)}`);
    const [gone, remaining] = first === 'h1-udp-a' ? [udpA, udpB] : [udpB, udpA];
    const entries = () => must(lab, 'h2', ['conntrack', '-L', '-p', 'udp', '--orig-dst', DNS, '--orig-port-src', String(SOURCE_PORT)]);
    assert.match(await entries(), new RegExp(`src=${gone.replace(/\./g, '\\.')} `), 'a conntrack entry leads this client to the endpoint about to go');
    assert.equal(await udpAsk(lab, 'h2', DNS, 53, SOURCE_PORT), first, 'the same source port sticks to its endpoint while it stays');

    const services = baseServices();
    services[0] = service('web', WEB, [podB], { nodePort: 30080 }); // as the test before left it
    services[4] = { ...services[4], ports: [{ ...services[4].ports[0], endpoints: [{ ip: remaining, port: 5353 }] }] };
    await syncAll(services);
    const report = proxiers.get('h2')!.lastSync!;
    assert.equal(report.full, false);
    assert.equal(report.changed, 1);
    assert.deepEqual(report.warnings, []);
    assert.doesNotMatch(await entries(), new RegExp(`src=${gone.replace(/\./g, '\\.')} `), 'the entry to the removed endpoint was flushed');

    const expected = remaining === udpA ? 'h1-udp-a' : 'h2-udp-b';
    const next = await udpAsk(lab, 'h2', DNS, 53, SOURCE_PORT);
    assert.equal(next, expected, `the next datagram from the same source port reached ${JSON.stringify(next)}, not the remaining endpoint`);
  });

  it('removes, on the first sync of a new proxier, what an earlier one owned and no longer wanted', async function () {
    const fresh = new NftablesProxier(new LabExecutor(lab, 'h1'));
    await fresh.sync([service('web', WEB, [podA])], ctx.get('h1')!);
    const chains = await must(lab, 'h1', ['nft', 'list', 'table', 'ip', 'cox_proxy']);
    assert.doesNotMatch(chains, /default\/sticky|100\.127\.0\.11|100\.127\.0\.13/);
    assert.match(chains, /100\.127\.0\.10 \. 80 \. 0 : /);
    const self = await httpGet(lab, 'h1', `http://${SELF}/`);
    assert.equal(self.ok, false, `the Service no longer wanted still answered: ${self.body}`);
    proxiers.set('h1', fresh);
  });

  it('removes, on the first sync after a restart in nftables mode, what an ipvs-mode agent left (its nft table and VIP interface) and nothing else', async function () {
    // This kernel has no IPVS and no dummy links: the ipvs agent's leftovers are made by hand, its interface as a bridge of the same name.
    await must(lab, 'h1', ['nft', 'add', 'table', 'ip', 'cox_ipvs']);
    await must(lab, 'h1', ['nft', 'add', 'chain', 'ip', 'cox_ipvs', 'nat_postrouting', '{ type nat hook postrouting priority srcnat; policy accept; }']);
    await must(lab, 'h1', ['nft', 'add', 'table', 'ip', 'someone_else']);
    for (const dev of ['cox-ipvs0', 'other-ipvs0']) {
      await must(lab, 'h1', ['ip', 'link', 'add', dev, 'type', 'bridge']);
      await must(lab, 'h1', ['ip', 'address', 'add', dev === 'cox-ipvs0' ? '100.127.0.13/32' : '100.127.0.99/32', 'dev', dev]);
    }
    try {
      const restarted = new NftablesProxier(new LabExecutor(lab, 'h1'));
      await restarted.sync([service('web', WEB, [podA])], ctx.get('h1')!);
      const tables = await must(lab, 'h1', ['nft', 'list', 'tables']);
      assert.doesNotMatch(tables, /cox_ipvs/);
      assert.match(tables, /table ip cox_proxy/);
      assert.match(tables, /table ip someone_else/);
      const links = await must(lab, 'h1', ['ip', '-o', 'link', 'show']);
      assert.doesNotMatch(links, /cox-ipvs0/);
      assert.match(links, /other-ipvs0/);
      assert.deepEqual(await answers(lab, 'h1', `http://${WEB}/`, 2), ['h1-web-a', 'h1-web-a']);
      proxiers.set('h1', restarted);
    } finally {
      await labExec(lab, 'h1', ['ip', 'link', 'del', 'other-ipvs0']);
      await labExec(lab, 'h1', ['ip', 'link', 'del', 'cox-ipvs0']);
      await labExec(lab, 'h1', ['nft', 'delete', 'table', 'ip', 'someone_else']);
    }
  });

  it('removes its table on cleanup and leaves the rest of the ruleset alone', async function () {
    await proxiers.get('h1')!.cleanup();
    const tables = await must(lab, 'h1', ['nft', 'list', 'tables']);
    assert.doesNotMatch(tables, /cox_proxy/);
  });
});
