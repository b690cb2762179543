/**
 * Stale UDP conntrack entries keep sending a client's datagrams to an
 * endpoint that is gone (UDP has no close to end them). These build the
 * `conntrack -D` commands that flush them; exit 1 means "none matched".
 *
 * Every command names the Service port's destination (address and port) and
 * the endpoint that went: other flows to the same VIP or node address are
 * left alone.
 */
import type { ServicePortChanges } from './change-tracker.ts';
import type { VirtualServer } from './ipvs-render.ts';
import type { ServicePort } from './service-ports.ts';

/**
 * For nftables: entries DNATed to each removed UDP endpoint, and all entries
 * of a removed UDP Service port; through its NodePort too, on the node address
 * the NodePort was matched on (`nodeAddress`: the one the old table had).
 */
export function staleUdpFlushes(changes: ServicePortChanges, nodeAddress: string): string[][] {
  const out: string[][] = [];
  const base = (p: ServicePort) => ['conntrack', '-D', '-p', 'udp', '--orig-dst', p.vip, '--orig-port-dst', String(p.port)];
  const viaNodePort = (p: ServicePort, ip: string) => ['conntrack', '-D', '-p', 'udp', '--orig-dst', nodeAddress, '--orig-port-dst', String(p.nodePort), '--dst-nat', ip];
  for (const p of changes.removed) {
    if (p.protocol !== 'UDP' || p.endpoints.length === 0) continue;
    out.push(base(p));
    if (p.nodePort) for (const e of p.endpoints) out.push(viaNodePort(p, e.ip));
  }
  for (const { before, after } of changes.updated) {
    if (before.protocol !== 'UDP') continue;
    const kept = new Set(after.endpoints.map((e) => `${e.ip}:${e.port}`));
    for (const e of before.endpoints) {
      if (kept.has(`${e.ip}:${e.port}`)) continue;
      out.push([...base(before), '--dst-nat', e.ip]);
      if (before.nodePort) out.push(viaNodePort(before, e.ip));
    }
  }
  return out;
}

/**
 * For IPVS: the entries of one UDP virtual server (VIP:port or node
 * address:NodePort) answered by one real server ("ip:port"). IPVS rewrites
 * the reply tuple (net.ipv4.vs.conntrack=1) but sets no DNAT status, so the
 * real server is matched as the reply's source, not with `--dst-nat`.
 */
export function ipvsUdpFlush(server: Pick<VirtualServer, 'address' | 'port'>, real: string): string[] {
  const colon = real.lastIndexOf(':');
  return [
    'conntrack', '-D', '-p', 'udp',
    '--orig-dst', server.address, '--orig-port-dst', String(server.port),
    '--reply-src', real.slice(0, colon), '--reply-port-src', real.slice(colon + 1),
  ];
}
