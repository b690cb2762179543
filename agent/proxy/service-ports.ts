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
  /** Everything that decides this port's rules, as one string: equal fingerprints mean nothing to do. */
  fingerprint: string;
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
      const endpoints = uniqueEndpoints(p.endpoints);
      const nodePort = svc.type === 'NodePort' && p.nodePort ? p.nodePort : undefined;
      let fp = `${svc.clusterIP} ${p.port} ${p.protocol} ${nodePort ?? 0} ${affinity ?? 0}`;
      for (const e of endpoints) fp += ` ${e.ip}:${e.port}`;
      const port: ServicePort = { key: `${service}/${p.protocol}`, service, protocol: p.protocol, vip: svc.clusterIP as string, port: p.port, endpoints, fingerprint: fp };
      if (nodePort) port.nodePort = nodePort;
      if (affinity !== undefined) port.affinityTimeoutSeconds = affinity;
      out.push(port);
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function uniqueEndpoints(endpoints: Endpoint[]): Endpoint[] {
  const order = endpoints.map((e) => ipToNumber(e.ip) * 65536 + e.port);
  let sortedAndUnique = true;
  for (let i = 1; i < order.length && sortedAndUnique; i++) sortedAndUnique = order[i - 1] < order[i];
  // The usual case, cheaply: already sorted, nothing twice (a full load normalises 100,000 endpoints).
  const picked = sortedAndUnique ? endpoints.map((e, i) => ({ n: order[i], e })) : sortUnique(endpoints, order);
  return picked.map(({ e }) => (e.nodeName ? { ip: e.ip, port: e.port, nodeName: e.nodeName } : { ip: e.ip, port: e.port }));
}

function sortUnique(endpoints: Endpoint[], order: number[]): Array<{ n: number; e: Endpoint }> {
  const keyed = endpoints.map((e, i) => ({ n: order[i], e })).sort((a, b) => a.n - b.n);
  return keyed.filter((k, i) => i === 0 || k.n !== keyed[i - 1].n);
}

export function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const ai = ipToNumber(a.ip);
  const bi = ipToNumber(b.ip);
  return ai !== bi ? ai - bi : a.port - b.port;
}

export function ipToNumber(ip: string): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return n * 256 + part;
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
  return p.fingerprint;
}

/** A short stable id for names the kernel keeps (nft chains, sets): base32 of sha256. */
const hashCache = new Map<string, string>();

export function shortHash(text: string): string {
  const cached = hashCache.get(text);
  if (cached) return cached;
  const digest = createHash('sha256').update(text).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[digest[i] & 31];
  if (hashCache.size >= 200_000) hashCache.clear();
  hashCache.set(text, out);
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
