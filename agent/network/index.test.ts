import assert from 'node:assert/strict';
import { gatewayOf, nftScript, routeCommands } from './index.ts';

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
});
