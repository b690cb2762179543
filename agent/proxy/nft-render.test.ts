import assert from 'node:assert/strict';
import type { DesiredService } from '../../common/agent-api.ts';
import { diffServicePorts } from './change-tracker.ts';
import { renderFull, renderIncremental } from './nft-render.ts';
import { servicePorts, type ServicePort } from './service-ports.ts';

const ctx = { nodeAddress: '198.18.3.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16' };
const lb = { table: 'cox_proxy', loadBalance: true };

function web(endpoints: string[]): DesiredService {
  return { namespace: 'shop', name: 'web', type: 'NodePort', clusterIP: '100.127.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: endpoints.map((ip) => ({ ip, port: 8080 })) }] };
}

function dns(endpoints: string[]): DesiredService {
  return { namespace: 'kube', name: 'dns', type: 'ClusterIP', clusterIP: '100.127.0.53', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60, ports: [{ protocol: 'UDP', port: 53, endpoints: endpoints.map((ip) => ({ ip, port: 5353 })) }] };
}

/** The lb chains every full table holds (1..16 endpoints, TCP and UDP), in the order rendered. */
const PRESET_LB = ['tcp', 'udp']
  .flatMap((proto) => Array.from({ length: 16 }, (_, i) => [`lb-${proto}-${i + 1}`, proto, i + 1] as const))
  .map(([chain, proto, n]) => `add chain ip cox_proxy ${chain}\nadd rule ip cox_proxy ${chain} meta l4proto ${proto} dnat to ip daddr . th dport . numgen inc mod ${n} map @service_endpoints_${proto}\n`)
  .join('');

const byKey = (ports: ServicePort[]) => new Map(ports.map((p) => [p.key, p]));
const incremental = (before: DesiredService[], after: DesiredService[]) => renderIncremental(diffServicePorts(byKey(servicePorts(before)), servicePorts(after)), ctx, lb);

const BASE = `table ip cox_proxy {
	map service_ips { type ipv4_addr . inet_proto . inet_service : verdict; }
	map service_nodeports { type inet_proto . inet_service : verdict; }
	map service_endpoints_tcp { typeof ip daddr . th dport . numgen inc mod 2 : ip daddr . th dport; }
	map service_endpoints_udp { typeof ip daddr . th dport . numgen inc mod 2 : ip daddr . th dport; }
	map no_endpoint_services { type ipv4_addr . inet_proto . inet_service : verdict; }
	map no_endpoint_nodeports { type inet_proto . inet_service : verdict; }
	set nodeports { type inet_proto . inet_service; }
	chain mark_prerouting { type filter hook prerouting priority -110; policy accept; jump mark_nodeports; }
	chain mark_output { type filter hook output priority -110; policy accept; jump mark_nodeports; }
	chain mark_nodeports { ip daddr 198.18.3.11 meta l4proto . th dport @nodeports meta mark set meta mark | 0x00004000; }
	chain nat_prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }
	chain nat_output { type nat hook output priority -100; policy accept; jump services; }
	chain services { ip daddr . meta l4proto . th dport vmap @service_ips; ip daddr 198.18.3.11 meta l4proto . th dport vmap @service_nodeports; }
	chain nat_postrouting { type nat hook postrouting priority srcnat; policy accept; ip saddr 100.64.1.0/24 ip daddr 100.64.1.0/24 ct original ip daddr != 100.64.1.0/24 masquerade; meta mark & 0x00004000 == 0x00004000 masquerade; }
	chain filter_input { type filter hook input priority -110; policy accept; jump endpoints_check; }
	chain filter_forward { type filter hook forward priority -110; policy accept; jump endpoints_check; }
	chain filter_output { type filter hook output priority -110; policy accept; jump endpoints_check; }
	chain endpoints_check { ip daddr . meta l4proto . th dport vmap @no_endpoint_services; ip daddr 198.18.3.11 meta l4proto . th dport vmap @no_endpoint_nodeports; }
	chain reject_service { meta l4proto tcp reject with tcp reset; reject; }
}
`;

describe('nftables rule rendering', function () {
  it('renders a full table that replaces the old one in the same transaction: round-robin through a shared lb chain and one endpoint map, ClientIP affinity by per-endpoint sets, NodePort by its own map', function () {
    assert.equal(
      renderFull(servicePorts([web(['100.64.1.2', '100.64.2.2']), dns(['100.64.2.7'])]), ctx, lb),
      `add table ip cox_proxy
delete table ip cox_proxy
${BASE}${PRESET_LB}add set ip cox_proxy aff-XMJGLSGM { type ipv4_addr; flags dynamic,timeout; timeout 60s; }
add chain ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53
add chain ip cox_proxy ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353
add rule ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53 ip saddr @aff-XMJGLSGM goto ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353
add rule ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53 numgen inc mod 1 vmap { 0 : goto ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353 }
add rule ip cox_proxy ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353 update @aff-XMJGLSGM { ip saddr }
add rule ip cox_proxy ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353 meta l4proto udp dnat to 100.64.2.7:5353
add element ip cox_proxy service_ips { 100.127.0.53 . udp . 53 : goto svc-5VJW3TK3-kube/dns/udp/53, 100.127.0.10 . tcp . 80 : goto lb-tcp-2 }
add element ip cox_proxy nodeports { tcp . 30080 }
add element ip cox_proxy service_nodeports { tcp . 30080 : goto lb-tcp-2 }
add element ip cox_proxy service_endpoints_tcp { 100.127.0.10 . 80 . 0 : 100.64.1.2 . 8080, 100.127.0.10 . 80 . 1 : 100.64.2.2 . 8080, 198.18.3.11 . 30080 . 0 : 100.64.1.2 . 8080, 198.18.3.11 . 30080 . 1 : 100.64.2.2 . 8080 }
`,
    );
  });

  it('renders the same text for the same Services given in another order with duplicate endpoints', function () {
    const a = renderFull(servicePorts([web(['100.64.1.2', '100.64.2.2']), dns(['100.64.2.7'])]), ctx, lb);
    const b = renderFull(servicePorts([dns(['100.64.2.7', '100.64.2.7']), web(['100.64.2.2', '100.64.1.2'])]), ctx, lb);
    assert.equal(a, b);
  });

  it('renders a helper table without load balancing for ipvs mode: reject, NodePort mark and masquerade only', function () {
    const text = renderFull(servicePorts([web(['100.64.1.2']), { ...dns([]), name: 'gone' }]), ctx, { table: 'cox_ipvs', loadBalance: false });
    assert.equal(
      text,
      `add table ip cox_ipvs
delete table ip cox_ipvs
table ip cox_ipvs {
	map no_endpoint_services { type ipv4_addr . inet_proto . inet_service : verdict; }
	map no_endpoint_nodeports { type inet_proto . inet_service : verdict; }
	set nodeports { type inet_proto . inet_service; }
	chain mark_prerouting { type filter hook prerouting priority -110; policy accept; jump mark_nodeports; }
	chain mark_output { type filter hook output priority -110; policy accept; jump mark_nodeports; }
	chain mark_nodeports { ip daddr 198.18.3.11 meta l4proto . th dport @nodeports meta mark set meta mark | 0x00004000; }
	chain nat_postrouting { type nat hook postrouting priority srcnat; policy accept; ip saddr 100.64.1.0/24 ip daddr 100.64.1.0/24 ct original ip daddr != 100.64.1.0/24 masquerade; meta mark & 0x00004000 == 0x00004000 masquerade; }
	chain filter_input { type filter hook input priority -110; policy accept; jump endpoints_check; }
	chain filter_forward { type filter hook forward priority -110; policy accept; jump endpoints_check; }
	chain filter_output { type filter hook output priority -110; policy accept; jump endpoints_check; }
	chain endpoints_check { ip daddr . meta l4proto . th dport vmap @no_endpoint_services; ip daddr 198.18.3.11 meta l4proto . th dport vmap @no_endpoint_nodeports; }
	chain reject_service { meta l4proto tcp reject with tcp reset; reject; }
}
add element ip cox_ipvs no_endpoint_services { 100.127.0.53 . udp . 53 : goto reject_service }
add element ip cox_ipvs nodeports { tcp . 30080 }
`,
    );
  });

  const cases: Array<{ name: string; before: DesiredService[]; after: DesiredService[]; script: string }> = [
    {
      name: 'An endpoint removed replaces only that Service’s map elements and points it at the lb chain of its new endpoint count.',
      before: [web(['100.64.1.2', '100.64.2.2']), dns(['100.64.2.7'])],
      after: [web(['100.64.2.2']), dns(['100.64.2.7'])],
      script: `delete element ip cox_proxy service_ips { 100.127.0.10 . tcp . 80 }
delete element ip cox_proxy service_nodeports { tcp . 30080 }
delete element ip cox_proxy service_endpoints_tcp { 100.127.0.10 . 80 . 0, 100.127.0.10 . 80 . 1, 198.18.3.11 . 30080 . 0, 198.18.3.11 . 30080 . 1 }
add element ip cox_proxy service_ips { 100.127.0.10 . tcp . 80 : goto lb-tcp-1 }
add element ip cox_proxy service_nodeports { tcp . 30080 : goto lb-tcp-1 }
add element ip cox_proxy service_endpoints_tcp { 100.127.0.10 . 80 . 0 : 100.64.2.2 . 8080, 198.18.3.11 . 30080 . 0 : 100.64.2.2 . 8080 }
`,
    },
    {
      name: 'The last endpoint removed moves the VIP and NodePort to the reject maps and drops the Service’s endpoint elements.',
      before: [web(['100.64.1.2', '100.64.2.2']), dns(['100.64.2.7'])],
      after: [web([]), dns(['100.64.2.7'])],
      script: `delete element ip cox_proxy nodeports { tcp . 30080 }
delete element ip cox_proxy service_ips { 100.127.0.10 . tcp . 80 }
delete element ip cox_proxy service_nodeports { tcp . 30080 }
delete element ip cox_proxy service_endpoints_tcp { 100.127.0.10 . 80 . 0, 100.127.0.10 . 80 . 1, 198.18.3.11 . 30080 . 0, 198.18.3.11 . 30080 . 1 }
add element ip cox_proxy no_endpoint_services { 100.127.0.10 . tcp . 80 : goto reject_service }
add element ip cox_proxy no_endpoint_nodeports { tcp . 30080 : goto reject_service }
`,
    },
    {
      name: 'An endpoint added to a ClientIP Service leaves the existing endpoint’s chain and affinity set untouched and adds a set and chain for the new one.',
      before: [dns(['100.64.2.7'])],
      after: [dns(['100.64.2.7', '100.64.2.8'])],
      script: `flush chain ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53
add set ip cox_proxy aff-R3S2GG7A { type ipv4_addr; flags dynamic,timeout; timeout 60s; }
add chain ip cox_proxy ep-R3S2GG7A-kube/dns/udp/53__100.64.2.8/5353
add rule ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53 ip saddr @aff-XMJGLSGM goto ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353
add rule ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53 ip saddr @aff-R3S2GG7A goto ep-R3S2GG7A-kube/dns/udp/53__100.64.2.8/5353
add rule ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53 numgen inc mod 2 vmap { 0 : goto ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353, 1 : goto ep-R3S2GG7A-kube/dns/udp/53__100.64.2.8/5353 }
add rule ip cox_proxy ep-R3S2GG7A-kube/dns/udp/53__100.64.2.8/5353 update @aff-R3S2GG7A { ip saddr }
add rule ip cox_proxy ep-R3S2GG7A-kube/dns/udp/53__100.64.2.8/5353 meta l4proto udp dnat to 100.64.2.8:5353
`,
    },
    {
      name: 'A Service removed takes its map element, chains and affinity sets with it.',
      before: [web(['100.64.1.2']), dns(['100.64.2.7'])],
      after: [web(['100.64.1.2'])],
      script: `delete element ip cox_proxy service_ips { 100.127.0.53 . udp . 53 }
flush chain ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53
flush chain ip cox_proxy ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353
delete chain ip cox_proxy svc-5VJW3TK3-kube/dns/udp/53
delete chain ip cox_proxy ep-XMJGLSGM-kube/dns/udp/53__100.64.2.7/5353
delete set ip cox_proxy aff-XMJGLSGM
`,
    },
    {
      name: 'A headless Service added changes nothing.',
      before: [web(['100.64.1.2'])],
      after: [web(['100.64.1.2']), { namespace: 'shop', name: 'db', type: 'ClusterIP', clusterIP: 'None', ports: [{ protocol: 'TCP', port: 5432, endpoints: [{ ip: '100.64.1.9', port: 5432 }] }] }],
      script: '',
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      assert.equal(incremental(c.before, c.after), c.script);
    });
  }
});
