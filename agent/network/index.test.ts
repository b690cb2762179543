import assert from 'node:assert/strict';
import { bridgeMac, gatewayOf, nftScript, pinBridgeCommands, routeCommands, type HostLink } from './index.ts';

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
