/**
 * The proxy's view of desired services: one ServicePort per (Service, port),
 * headless Services dropped, endpoints de-duplicated and sorted, so two
 * equal desires always compare equal (that is what lets the change tracker
 * drop no-op updates and the renderers produce stable text).
 */
import { createHash } from 'node:crypto';
import type { DesiredService, Endpoint, ProxyTable, ProxyTableEntry } from '../../common/agent-api.ts';

export type Protocol = 'TCP' | 'UDP';

export interface ServicePort {
  /** Stable identity: "namespace/name:portName-or-port/protocol". */
  key: string;
  /** As shown in the proxy table: "namespace/name:portName-or-port". */
  service: string;
  protocol: Protocol;
  vip: string;
  port: number;
  nodePort?: number;
  /** Ready endpoints, unique, sorted by ip then port. */
  endpoints: Endpoint[];
  /** Set when sessionAffinity is ClientIP: how long a client sticks to its endpoint. */
  affinityTimeoutSeconds?: number;
}

/** Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

export function isHeadless(service: DesiredService): boolean {
  return service.clusterIP === null || service.clusterIP === '' || service.clusterIP === 'None';
}

/** Flattens desired Services into ServicePorts sorted by key; headless Services programme nothing. */
export function servicePorts(services: DesiredService[]): ServicePort[] {
  const out: ServicePort[] = [];
  for (const svc of services) {
    if (isHeadless(svc)) continue;
    const affinity = svc.sessionAffinity === 'ClientIP' ? svc.sessionAffinityTimeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS : undefined;
    for (const p of svc.ports) {
      const service = `${svc.namespace}/${svc.name}:${p.name || p.port}`;
      const port: ServicePort = {
        key: `${service}/${p.protocol}`,
        service,
        protocol: p.protocol,
        vip: svc.clusterIP as string,
        port: p.port,
        endpoints: uniqueEndpoints(p.endpoints),
      };
      if (svc.type === 'NodePort' && p.nodePort) port.nodePort = p.nodePort;
      if (affinity !== undefined) port.affinityTimeoutSeconds = affinity;
      out.push(port);
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function uniqueEndpoints(endpoints: Endpoint[]): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const e of endpoints) {
    const id = `${e.ip}:${e.port}`;
    if (!seen.has(id)) seen.set(id, e.nodeName ? { ip: e.ip, port: e.port, nodeName: e.nodeName } : { ip: e.ip, port: e.port });
  }
  return [...seen.values()].sort(compareEndpoints);
}

export function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const ai = ipToNumber(a.ip);
  const bi = ipToNumber(b.ip);
  return ai !== bi ? ai - bi : a.port - b.port;
}

export function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** True when `ip` lies inside `cidr` ("100.64.1.0/24"). */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = Number(bits);
  if (n === 0) return true;
  const mask = n === 32 ? 0xffffffff : (~((1 << (32 - n)) - 1)) >>> 0;
  return ((ipToNumber(ip) & mask) >>> 0) === ((ipToNumber(base) & mask) >>> 0);
}

/** What decides a ServicePort's rules: equal fingerprints mean nothing to do. */
export function fingerprint(p: ServicePort): string {
  return JSON.stringify([p.vip, p.port, p.protocol, p.nodePort ?? 0, p.affinityTimeoutSeconds ?? 0, p.endpoints.map((e) => `${e.ip}:${e.port}`)]);
}

/** A short stable id for names the kernel keeps (nft chains, sets): base32 of sha256. */
export function shortHash(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[digest[i] & 31];
  return out;
}

/** The observed proxy table: what this node programmed, sorted, as the status branch shows it. */
export function proxyTable(mode: ProxyTable['mode'], ports: Iterable<ServicePort>, scheduler?: string): ProxyTable {
  const services: ProxyTableEntry[] = [];
  for (const p of ports) {
    const entry: ProxyTableEntry = {
      service: p.service,
      vip: p.vip,
      port: p.port,
      protocol: p.protocol,
      backends: p.endpoints.map((e) => `${e.ip}:${e.port}`),
      sessionAffinity: p.affinityTimeoutSeconds !== undefined ? 'ClientIP' : 'None',
    };
    if (p.nodePort) entry.nodePort = p.nodePort;
    if (scheduler) entry.scheduler = scheduler;
    services.push(entry);
  }
  services.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  return { mode, services };
}
