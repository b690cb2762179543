/**
 * Stale UDP conntrack entries keep sending a client's datagrams to an
 * endpoint that is gone (UDP has no close to end them). These build the
 * `conntrack -D` commands that flush them; exit 1 means "none matched".
 */
import type { ServicePortChanges } from './change-tracker.ts';
import type { ServicePort } from './service-ports.ts';

/**
 * For nftables: entries DNATed to each removed UDP endpoint, and all entries
 * of a removed UDP Service; through its NodePort too (any node address: the
 * port and the endpoint pick them out, as kube-proxy does).
 */
export function staleUdpFlushes(changes: ServicePortChanges): string[][] {
  const out: string[][] = [];
  const base = (p: ServicePort) => ['conntrack', '-D', '-p', 'udp', '--orig-dst', p.vip, '--orig-port-dst', String(p.port)];
  const viaNodePort = (p: ServicePort, ip: string) => ['conntrack', '-D', '-p', 'udp', '--orig-port-dst', String(p.nodePort), '--dst-nat', ip];
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

/** For IPVS: all UDP entries of a virtual address. */
export function ipvsUdpFlush(address: string): string[] {
  return ['conntrack', '-D', '-p', 'udp', '--orig-dst', address];
}
