/**
 * IPVS for real: this machine's kernel has none, so a qemu guest boots
 * Debian's kernel, mounts this machine's root read-only and runs the real
 * IpvsProxier there (qemu/guest-ipvs.ts). The guest reports `ipvsadm -Sn`
 * after every sync and who answered each request; this side checks them.
 * `npm run test:ipvs` runs it alone.
 */
import assert from 'node:assert/strict';
import { runGuest } from './qemu/guest.ts';

const MODULES = ['crc32c_generic', 'virtio_pci', '9pnet_virtio', '9p', 'ip_vs', 'ip_vs_rr', 'veth', 'dummy', 'nf_tables', 'nft_chain_nat', 'nft_ct', 'nft_masq', 'nft_reject_ipv4', 'nf_conntrack_netlink', 'nft_numgen', 'nft_nat'];

interface GuestResult {
  error?: string;
  table: { mode: string; services: Array<{ service: string; backends: string[] }> };
  save1: string;
  save2: string;
  save3: string;
  save4: string;
  save5: string;
  vips1: string[];
  vips4: string[];
  vips5: string[];
  fromNode: string[];
  fromPod: string[];
  hairpin: string[];
  nodePort: string[];
  sticky: string[];
  empty: { status: number; error: string; ms: number };
  afterRemoval: string[];
  nftAfterCleanup: string;
  udpAnswers: string[];
  udpFlowsBefore: string[];
  udpFlowsAfter: string[];
  udpWarnings: string[];
  saveUdp: string;
  saveAfterNft: string;
  linkAfterNft: number;
  tablesAfterNft: string;
  fromPodAfterNft: string[];
  tablesAfterIpvs: string;
  saveAfterIpvs: string;
  firstSyncMs: number;
  drainSyncMs: number;
}

/** ipvsadm lists virtual servers in hash order: compare as sorted lines. */
const lines = (text: string) => text.split('\n').filter(Boolean).sort();

const NODE = '198.18.3.11';
/** The virtual servers the guest adds on the node address as someone else's (guest-ipvs.ts FOREIGN). */
const FOREIGN = [`-A -t ${NODE}:9090 -s rr`, `-A -u ${NODE}:9999 -s rr`, `-a -u ${NODE}:9999 -r 100.64.1.3:5353 -m -w 1`];

describe('ipvs proxier in a qemu guest', function () {
  this.timeout(900000);
  let r: GuestResult;

  before(async function () {
    const run = await runGuest({
      name: 'ipvs-test',
      command: 'node --import tsx test/integration/qemu/guest-ipvs.ts',
      modules: MODULES,
      timeoutMs: 840000,
      onLine: (line) => {
        if (line.startsWith('COX-GUEST') && !line.startsWith('COX-GUEST-EXIT')) process.stderr.write(`      guest: ${line}\n`);
      },
    });
    process.stderr.write(`      qemu guest ran for ${run.durationMs} ms\n`);
    const m = run.output.match(/^COX-RESULT (.*)$/m);
    assert.ok(m, `the guest printed no result:\n${run.output.slice(-4000)}`);
    r = JSON.parse(m[1]) as GuestResult;
    assert.equal(r.error, undefined, `the guest failed: ${r.error}`);
    assert.equal(run.exitCode, 0);
  });

  it('programmes exactly the expected virtual servers: masquerading real servers, rr, persistence for ClientIP, NodePort on the node address, none for headless or endpoint-less Services', function () {
    assert.deepEqual(lines(r.save1), lines(`-A -t 100.127.0.10:80 -s rr
-a -t 100.127.0.10:80 -r 100.64.1.2:8080 -m -w 1
-a -t 100.127.0.10:80 -r 100.64.1.3:8080 -m -w 1
-A -t 100.127.0.13:80 -s rr -p 300
-a -t 100.127.0.13:80 -r 100.64.1.2:8080 -m -w 1
-a -t 100.127.0.13:80 -r 100.64.1.3:8080 -m -w 1
-A -t 198.18.3.11:30080 -s rr
-a -t 198.18.3.11:30080 -r 100.64.1.2:8080 -m -w 1
-a -t 198.18.3.11:30080 -r 100.64.1.3:8080 -m -w 1
-A -u 100.127.0.53:53 -s rr
-a -u 100.127.0.53:53 -r 100.64.1.2:5353 -m -w 1`));
    assert.equal(r.table.mode, 'ipvs');
  });

  it('binds every non-headless VIP to its own interface cox-ipvs0', function () {
    assert.deepEqual(r.vips1, ['inet 100.127.0.10/32', 'inet 100.127.0.12/32', 'inet 100.127.0.13/32', 'inet 100.127.0.53/32']);
  });

  it('round-robins a ClusterIP across both backends from the node, from a pod, from a backend to its own Service (hairpin), and on the NodePort', function () {
    for (const [what, seen] of Object.entries({ fromNode: r.fromNode, fromPod: r.fromPod, hairpin: r.hairpin, nodePort: r.nodePort })) {
      assert.deepEqual(new Set(seen), new Set(['b1', 'b2']), `${what}: ${seen.join(', ')}`);
      assert.notEqual(seen[0], seen[1], `${what} did not alternate: ${seen.join(', ')}`);
    }
  });

  it('keeps a client on one backend when sessionAffinity is ClientIP', function () {
    assert.equal(new Set(r.sticky).size, 1, r.sticky.join(', '));
  });

  it('rejects a Service without endpoints at once through the nft helper table', function () {
    assert.match(r.empty.error, /refused/i);
    assert.ok(r.empty.ms < 3000, `took ${r.empty.ms} ms`);
  });

  it('drains a removed endpoint at weight 0, sends it no new connections, and deletes it on the next sync', function () {
    assert.ok(lines(r.save2).includes('-a -t 100.127.0.10:80 -r 100.64.1.2:8080 -m -w 0'), r.save2);
    assert.ok(lines(r.save2).includes('-a -t 198.18.3.11:30080 -r 100.64.1.2:8080 -m -w 0'), r.save2);
    assert.deepEqual(r.afterRemoval, ['b2', 'b2', 'b2', 'b2']);
    assert.ok(!r.save3.includes('100.64.1.2:8080 -m -w 0'), r.save3);
    assert.ok(lines(r.save3).includes('-a -t 100.127.0.10:80 -r 100.64.1.3:8080 -m -w 1'), r.save3);
  });

  it('deletes a removed Service and unbinds its VIP', function () {
    assert.ok(!r.save4.includes('100.127.0.13'), r.save4);
    assert.ok(!r.vips4.includes('inet 100.127.0.13/32'), r.vips4.join(', '));
  });

  it('flushes the UDP flows of a removed real server on its VIP and its NodePort, and no other flow to the node address', function () {
    assert.deepEqual(new Set(r.udpAnswers.slice(0, 2)), new Set(['b1', 'b2']), r.udpAnswers.join(', '));
    assert.deepEqual(new Set(r.udpAnswers.slice(2, 4)), new Set(['b1', 'b2']), r.udpAnswers.join(', '));
    assert.equal(r.udpAnswers[4], 'b2');
    const through = (flows: string[]) => flows.filter((f) => / (100\.127\.0\.54:53|198\.18\.3\.11:(30053|9999)) /.test(f));
    const before = through(r.udpFlowsBefore);
    assert.equal(before.length, 5, r.udpFlowsBefore.join('\n'));
    assert.ok(before.some((f) => f.endsWith(' 100.64.1.2')), r.udpFlowsBefore.join('\n'));
    assert.deepEqual(through(r.udpFlowsAfter), before.filter((f) => !f.endsWith(' 100.64.1.2')), `before:\n${r.udpFlowsBefore.join('\n')}\nafter:\n${r.udpFlowsAfter.join('\n')}`);
    assert.deepEqual(r.udpWarnings, []);
  });

  it('leaves a foreign virtual server on the node address alone through every sync', function () {
    for (const save of [r.saveUdp, r.saveAfterIpvs]) for (const l of FOREIGN) assert.ok(lines(save).includes(l), `${l} missing from\n${save}`);
  });

  it('after a restart in nftables mode, removes every ipvs object of its own on the first sync and only those; back in ipvs mode, removes the nftables table', function () {
    assert.deepEqual(lines(r.saveAfterNft), [...FOREIGN].sort());
    assert.notEqual(r.linkAfterNft, 0, 'cox-ipvs0 is still there');
    assert.doesNotMatch(r.tablesAfterNft, /cox_ipvs/);
    assert.match(r.tablesAfterNft, /table ip cox_proxy/);
    assert.deepEqual(r.fromPodAfterNft, ['b2', 'b2']);
    assert.doesNotMatch(r.tablesAfterIpvs, /cox_proxy/);
    assert.match(r.tablesAfterIpvs, /table ip cox_ipvs/);
    assert.ok(lines(r.saveAfterIpvs).includes('-A -t 100.127.0.10:80 -s rr'), r.saveAfterIpvs);
  });

  it('leaves nothing of its own after cleanup: no virtual servers, no VIP interface, no nft table', function () {
    assert.deepEqual(lines(r.save5), [...FOREIGN].sort(), 'only the foreign virtual servers are left');
    assert.deepEqual(r.vips5, []);
    assert.equal(r.nftAfterCleanup, '');
  });
});
