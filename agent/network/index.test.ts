import assert from 'node:assert/strict';
import { NFT_TABLE, PodNetwork, ROUTE_PROTO, bridgeMac, gatewayOf, nftScript, pinBridgeCommands, routeCommands, type HostLink } from './index.ts';
import { FakeRuntime } from '../runtime/fake.ts';

describe('pod network plan', () => {
  const cases: { name: string; desired: { cidr: string; via: string }[]; installed: { dst: string; gateway?: string }[]; want: string[] }[] = [
    { name: 'adds a route to every peer pod subnet via the peer', desired: [{ cidr: '100.64.2.0/24', via: '198.18.2.12' }, { cidr: '100.64.3.0/24', via: '198.18.2.13' }], installed: [], want: ['ip route replace 100.64.2.0/24 via 198.18.2.12 proto 147', 'ip route replace 100.64.3.0/24 via 198.18.2.13 proto 147'] },
    { name: 'leaves a route that is already right alone', desired: [{ cidr: '100.64.2.0/24', via: '198.18.2.12' }], installed: [{ dst: '100.64.2.0/24', gateway: '198.18.2.12' }], want: [] },
    { name: 'replaces a route whose peer address changed', desired: [{ cidr: '100.64.2.0/24', via: '198.18.2.22' }], installed: [{ dst: '100.64.2.0/24', gateway: '198.18.2.12' }], want: ['ip route replace 100.64.2.0/24 via 198.18.2.22 proto 147'] },
    { name: 'deletes only its own routes to peers that left, by protocol', desired: [], installed: [{ dst: '100.64.3.0/24', gateway: '198.18.2.13' }], want: ['ip route del 100.64.3.0/24 proto 147'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(routeCommands(c.desired, c.installed).map((a) => a.join(' ')), c.want));

  it('writes one nft table that keeps pod-to-pod sources and masquerades egress', () => {
    const s = nftScript('100.64.1.0/24', '100.64.0.0/16');
    assert.match(s, /priority srcnat - 10/);
    assert.match(s, /ct status dnat return\n\s+ip saddr 100\.64\.1\.0\/24 ip daddr 100\.64\.0\.0\/16 snat ip to ip saddr/);
    assert.match(s, /ip saddr 100\.64\.1\.0\/24 ip daddr != 100\.64\.0\.0\/16 masquerade/);
    assert.match(s, /^table ip cox_net\ndelete table ip cox_net\n/);
  });

  it('takes the first address of the subnet as the gateway', () => assert.equal(gatewayOf('100.64.3.0/24'), '100.64.3.1'));

  it('derives the bridge MAC from the gateway: 0a:58 and its octets, locally administered unicast', () => {
    assert.equal(bridgeMac('100.64.1.1'), '0a:58:64:40:01:01');
    assert.equal(bridgeMac('100.64.12.1'), '0a:58:64:40:0c:01');
  });

  describe('pinning the pod bridge MAC', () => {
    const link = (ifname: string, address: string, kind: string | undefined, ...locals: string[]): HostLink => ({ ifname, address, ...(kind ? { linkinfo: { info_kind: kind } } : {}), addr_info: locals.map((local) => ({ local })) });
    const cases: { name: string; links: HostLink[]; want: string[] }[] = [
      { name: 'pins the bridge holding the gateway to its fixed address', links: [link('eth0', '6e:a5:c7:96:18:86', 'veth', '198.18.2.11'), link('podman0', 'e2:99:e5:da:25:e4', 'bridge', '100.64.1.1')], want: ['ip link set dev podman0 address 0a:58:64:40:01:01'] },
      { name: 'leaves a bridge that has its fixed address alone', links: [link('podman0', '0a:58:64:40:01:01', 'bridge', '100.64.1.1')], want: [] },
      { name: 'does nothing before the runtime created the bridge (no sandbox yet)', links: [link('eth0', '6e:a5:c7:96:18:86', 'veth', '198.18.2.11')], want: [] },
      { name: 'never touches a bridge of another subnet', links: [link('br-other', '12:34:56:78:9a:bc', 'bridge', '100.64.9.1')], want: [] },
      { name: 'never touches a link holding the gateway that is not a bridge', links: [link('eth1', '12:34:56:78:9a:bc', undefined, '100.64.1.1')], want: [] },
    ];
    for (const c of cases) it(c.name, () => assert.deepEqual(pinBridgeCommands(c.links, '100.64.1.0/24').map((a) => a.join(' ')), c.want));
  });
});

/** The host's kernel as far as the pod network sees it: routes, nft tables and ip_forward, changed by the commands it runs (or by hand). */
class FakeKernel {
  routes = new Map<string, { gateway: string; proto: number }>();
  tables = new Map<string, string>();
  ipForward = '0';
  readonly log: string[] = [];

  exec = async (argv: string[], input?: string): Promise<string> => {
    const cmd = argv.join(' ');
    this.log.push(cmd);
    if (cmd === 'ip -j -d -4 addr show') return '[]';
    if (cmd === `ip -j route show proto ${ROUTE_PROTO}`) return JSON.stringify([...this.routes].filter(([, r]) => r.proto === ROUTE_PROTO).map(([dst, r]) => ({ dst, gateway: r.gateway })));
    let m = /^ip route replace (\S+) via (\S+) proto (\d+)$/.exec(cmd);
    if (m) { this.routes.set(m[1], { gateway: m[2], proto: Number(m[3]) }); return ''; }
    m = /^ip route del (\S+) proto (\d+)$/.exec(cmd);
    if (m) { this.routes.delete(m[1]); return ''; }
    if (cmd === 'nft -f -') {
      // The script declares, deletes and re-creates the table: what it lists afterwards is the last block, as the kernel prints it.
      const body = input!.slice(input!.lastIndexOf(`table ip ${NFT_TABLE} {`));
      this.tables.set(NFT_TABLE, `${body.replace(/\n+$/, '')}\n`.replace(/^ {2}/gm, '\t'));
      return '';
    }
    if (cmd === `nft list table ip ${NFT_TABLE}`) {
      const t = this.tables.get(NFT_TABLE);
      if (t === undefined) throw new Error(`Error: No such file or directory; did you mean table 'nat' in family ip?`);
      return t;
    }
    if (cmd === 'sysctl -n net.ipv4.ip_forward') return `${this.ipForward}\n`;
    if (cmd === 'sysctl -q -w net.ipv4.ip_forward=1') { this.ipForward = '1'; return ''; }
    throw new Error(`unexpected command: ${cmd}`);
  };

  /** The commands since the last call that change something (not the reads). */
  changes(): string[] {
    const out = this.log.filter((c) => !/^(ip -j |nft list |sysctl -n )/.test(c));
    this.log.length = 0;
    return out;
  }
}

describe('pod network sync against the kernel', () => {
  const state = (routes: { cidr: string; via: string }[] = [{ cidr: '100.64.2.0/24', via: '198.18.2.12' }, { cidr: '100.64.3.0/24', via: '198.18.2.13' }]) => ({ podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16', routes });
  let kernel: FakeKernel;
  let net: PodNetwork;

  beforeEach(async () => {
    kernel = new FakeKernel();
    net = new PodNetwork(new FakeRuntime(), kernel.exec);
    await net.sync(state());
    assert.deepEqual(kernel.changes(), [
      'ip route replace 100.64.2.0/24 via 198.18.2.12 proto 147',
      'ip route replace 100.64.3.0/24 via 198.18.2.13 proto 147',
      'nft -f -',
      'sysctl -q -w net.ipv4.ip_forward=1',
    ]);
  });

  it('reads nothing back when the desired state did not change and no resync is asked for', async () => {
    await net.sync(state());
    assert.deepEqual(kernel.log, []);
  });

  it('changes nothing on a resync when the kernel is as the agent left it', async () => {
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), []);
  });

  it('restores a route deleted by hand on a resync, and rewrites nothing else', async () => {
    kernel.routes.delete('100.64.3.0/24');
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), ['ip route replace 100.64.3.0/24 via 198.18.2.13 proto 147']);
    assert.equal(kernel.routes.get('100.64.3.0/24')?.gateway, '198.18.2.13');
  });

  it('points a route changed by hand back at its peer on a resync', async () => {
    kernel.routes.set('100.64.2.0/24', { gateway: '198.18.2.99', proto: ROUTE_PROTO });
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), ['ip route replace 100.64.2.0/24 via 198.18.2.12 proto 147']);
  });

  it('reloads its nft table on a resync when it was deleted by hand', async () => {
    kernel.tables.delete(NFT_TABLE);
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), ['nft -f -']);
    assert.match(kernel.tables.get(NFT_TABLE) ?? '', /snat ip to ip saddr/);
  });

  it('reloads its nft table on a resync when a rule in it was changed by hand', async () => {
    kernel.tables.set(NFT_TABLE, kernel.tables.get(NFT_TABLE)!.replace(/^.*ct status dnat return\n/m, ''));
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), ['nft -f -']);
    assert.match(kernel.tables.get(NFT_TABLE) ?? '', /ct status dnat return/);
  });

  it('turns ip_forward back on on a resync when it was turned off', async () => {
    kernel.ipForward = '0';
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), ['sysctl -q -w net.ipv4.ip_forward=1']);
  });

  it('changes only the routes, not the table, when the peers change', async () => {
    await net.sync(state([{ cidr: '100.64.2.0/24', via: '198.18.2.12' }]));
    assert.deepEqual(kernel.changes(), ['ip route del 100.64.3.0/24 proto 147']);
  });

  it('reloads the table when the pod or cluster CIDR changes', async () => {
    await net.sync({ ...state(), clusterCIDR: '100.64.0.0/10' });
    assert.deepEqual(kernel.changes(), ['nft -f -']);
    assert.match(kernel.tables.get(NFT_TABLE) ?? '', /100\.64\.0\.0\/10/);
  });

  it('leaves routes of other protocols alone on a resync', async () => {
    kernel.routes.set('10.9.0.0/16', { gateway: '198.18.2.1', proto: 4 });
    await net.sync(state(), { resync: true });
    assert.deepEqual(kernel.changes(), []);
    assert.ok(kernel.routes.has('10.9.0.0/16'));
  });
});
