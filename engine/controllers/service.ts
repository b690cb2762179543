/**
 * Service: a ClusterIP from spec.clusterIP, or allocated deterministically
 * from namespace/name in the service CIDR with linear probing past
 * collisions, and kept (persisted in the status branch) for as long as the
 * Service exists; NodePorts likewise in the cluster's range; headless
 * services (clusterIP: None) get endpoints but no VIP. Endpoints are the
 * ready pods the selector matches, targetPort resolved by number or by
 * container port name.
 */
import type { Service } from '../../schemas/types.generated.ts';
import type { PodObject, ServiceObject } from '../model.ts';
import { stableHash } from '../scheduler/hash.ts';
import { matchesMap } from '../scheduler/labels.ts';
import type { Pass } from './context.ts';
import { deepEqual, sameList } from './equal.ts';
import { cidrContains, numberToIp, parseCidr } from './ip.ts';
import { isReady, isTerminating } from './pods.ts';
import { PodIndex, podHistory } from './pod-index.ts';
import { RangeFull } from '../../common/errors.ts';

type Endpoints = ServiceObject['status']['endpoints'];

/** The port a pod serves a service port on: a number as is, a name through the pod's container ports. */
export function resolveTargetPort(pod: PodObject, targetPort: number | string, protocol: string): number | undefined {
  if (typeof targetPort === 'number') return targetPort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === targetPort && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/**
 * A pod's index keys ("namespace/key=value"), kept per labels object: a pod's
 * labels are the same object from pass to pass, so the keys are not built
 * again (and, already hashed, are cheaper to look up).
 */
const labelKeys = new WeakMap<Record<string, string>, { namespace: string; keys: string[] }>();

function labelKeysOf(pod: PodObject): string[] {
  const labels = pod.metadata.labels;
  if (!labels) return [];
  const namespace = pod.metadata.namespace;
  const seen = labelKeys.get(labels);
  if (seen && seen.namespace === namespace) return seen.keys;
  const keys: string[] = [];
  for (const k in labels) keys.push(`${namespace}/${k}=${labels[k]}`);
  labelKeys.set(labels, { namespace, keys });
  return keys;
}

/** Pods by "namespace/key=value" label, so a selector looks at its candidates only; carried from pass to pass. */
const podsByLabel = new PodIndex(labelKeysOf, undefined, podHistory);

export function indexPodsByLabel(pods: ReadonlyMap<string, PodObject>): PodIndex {
  podsByLabel.update(pods);
  return podsByLabel;
}

export function computeEndpoints(service: ServiceObject, pods: Iterable<PodObject> | PodIndex, publishNotReady = false): Endpoints {
  const selected: PodObject[] = [];
  const selector = service.spec.selector;
  if (selector && Object.keys(selector).length > 0) {
    const [k] = Object.keys(selector);
    const candidates = pods instanceof PodIndex ? pods.get(`${service.metadata.namespace}/${k}=${selector[k]}`) ?? [] : pods;
    for (const pod of candidates) {
      if (pod.metadata.namespace !== service.metadata.namespace || isTerminating(pod) || !pod.status.podIP) continue;
      if (!matchesMap(pod.metadata.labels, service.spec.selector)) continue;
      if (!publishNotReady && !isReady(pod)) continue;
      selected.push(pod);
    }
  }
  return service.spec.ports.map((port) => {
    const addresses: Endpoints[number]['addresses'] = [];
    for (const pod of selected) {
      const target = resolveTargetPort(pod, port.targetPort, port.protocol);
      if (target === undefined) continue;
      addresses.push({ ip: pod.status.podIP!, port: target, nodeName: pod.spec.nodeName, podName: pod.metadata.name });
    }
    addresses.sort((a, b) => compareIp(a.ip, b.ip) || a.port - b.port || (a.podName < b.podName ? -1 : a.podName > b.podName ? 1 : 0));
    return { port: port.name ?? String(port.port), addresses };
  });
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/**
 * Per desired Service, worked out once per object: its namespace, "namespace/name" and the label index key of
 * its selector's first pair; once reconciled, the object it produced and the candidate pods it saw, so that an
 * unchanged Service over the same candidates is skipped on the next pass.
 */
interface ServiceMemo {
  namespace: string;
  key: string;
  candidatesKey: string | undefined;
  out?: ServiceObject;
  candidates?: readonly PodObject[];
}

const memos = new WeakMap<Service, ServiceMemo>();

function memoOf(s: Service): ServiceMemo {
  let memo = memos.get(s);
  if (!memo) {
    const namespace = s.metadata.namespace ?? 'default';
    const selector = s.spec.selector;
    const first = selector ? Object.keys(selector)[0] : undefined;
    memo = { namespace, key: `${namespace}/${s.metadata.name}`, candidatesKey: first === undefined ? undefined : `${namespace}/${first}=${selector![first]}` };
    memos.set(s, memo);
  }
  return memo;
}

function candidatesOf(memo: ServiceMemo, podsByLabel: PodIndex): readonly PodObject[] {
  return memo.candidatesKey === undefined ? [] : podsByLabel.get(memo.candidatesKey) ?? [];
}

interface Claims {
  serviceCIDR: string;
  nodePortRange: readonly [number, number];
  services: readonly Service[];
  previous: ReadonlyArray<ServiceObject | undefined>;
  /** Addresses and node ports taken: explicit ones and earlier allocations. */
  usedIPs: Set<string>;
  usedPorts: Set<number>;
  /** Earlier allocations each Service keeps, by "namespace/name". */
  kept: Map<string, ServiceObject>;
}

/** The last claims, while no allocation was added to them: the same Services over the same previous objects claim the same. */
let lastClaims: Claims | undefined;

/** Explicit addresses and earlier allocations are claimed first, so a new Service never takes them. */
function claimsOf(pass: Pass, services: readonly Service[], serviceMemos: readonly ServiceMemo[], previousObjects: ReadonlyArray<ServiceObject | undefined>): Claims {
  const { serviceCIDR, nodePortRange } = pass.settings;
  const last = lastClaims;
  if (last && last.serviceCIDR === serviceCIDR && deepEqual(last.nodePortRange, nodePortRange) && sameList(last.services, services) && sameList(last.previous, previousObjects)) return last;
  const cidr = parseCidr(serviceCIDR);
  const claims: Claims = { serviceCIDR, nodePortRange, services, previous: previousObjects, usedIPs: new Set(), usedPorts: new Set(), kept: new Map() };
  for (const s of services) {
    const ip = s.spec.clusterIP;
    if (ip && ip !== 'None') claims.usedIPs.add(ip);
    for (const p of s.spec.ports) if (p.nodePort) claims.usedPorts.add(p.nodePort);
  }
  services.forEach((s, i) => {
    const previous = previousObjects[i];
    if (!previous) return;
    for (const p of previous.spec.ports ?? []) if (p.nodePort) claims.usedPorts.add(p.nodePort);
    if (s.spec.clusterIP) return;
    const ip = previous.spec.clusterIP;
    if (ip !== 'None' && cidrContains(cidr, ip) && !claims.usedIPs.has(ip)) {
      claims.usedIPs.add(ip);
      claims.kept.set(serviceMemos[i].key, previous);
    }
  });
  lastClaims = claims;
  return claims;
}

export function reconcileServices(pass: Pass, services: Service[], podsByLabel: PodIndex): void {
  const cidr = parseCidr(pass.settings.serviceCIDR);
  const [portLow, portHigh] = pass.settings.nodePortRange;
  const serviceMemos = services.map(memoOf);
  const previousObjects = serviceMemos.map((m) => pass.observed.services.get(m.key));
  const { usedIPs, usedPorts, kept } = claimsOf(pass, services, serviceMemos, previousObjects);
  let allocated = false;

  for (let i = 0; i < services.length; i++) {
    const s = services[i];
    const previous = previousObjects[i];
    const memo = serviceMemos[i];
    const { namespace, key } = memo;
    const candidates = candidatesOf(memo, podsByLabel);
    const sameIP = s.spec.clusterIP ? s.spec.clusterIP === previous?.spec.clusterIP : kept.get(key) === previous;
    if (previous && memo.out === previous && memo.candidates && sameIP && sameList(memo.candidates, candidates)) {
      pass.next.services.set(key, previous);
      continue;
    }
    const type = s.spec.type ?? 'ClusterIP';
    let clusterIP: string;
    let ports: ServiceObject['spec']['ports'];
    try {
      if (s.spec.clusterIP) clusterIP = s.spec.clusterIP;
      else if (kept.has(key)) clusterIP = kept.get(key)!.spec.clusterIP;
      else {
        clusterIP = allocateIP(cidr, key, usedIPs);
        allocated = true;
      }
      ports = s.spec.ports.map((p) => {
        const protocol = p.protocol ?? 'TCP';
        const out: ServiceObject['spec']['ports'][number] = { ...(p.name ? { name: p.name } : {}), protocol, port: p.port, targetPort: p.targetPort ?? p.port };
        if (type === 'NodePort') {
          const before = previous?.spec.ports.find((q) => (q.name ?? '') === (p.name ?? '') && q.port === p.port && q.protocol === protocol)?.nodePort;
          out.nodePort = p.nodePort ?? before;
          if (out.nodePort === undefined) {
            out.nodePort = allocatePort(`${key}:${p.name ?? p.port}`, portLow, portHigh, usedPorts);
            allocated = true;
          }
        }
        return out;
      });
    } catch (err) {
      if (!(err instanceof RangeFull)) throw err;
      // This Service waits, with what it had if anything; every other Service is reconciled as usual.
      pass.actions.push({ type: 'configError', workload: `Service/${key}`, message: err.message });
      if (previous) pass.next.services.set(key, previous);
      continue;
    }

    const object: ServiceObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.metadata.name, namespace, creationTimestamp: previous?.metadata.creationTimestamp ?? pass.nowIso },
      spec: {
        type,
        clusterIP,
        ports,
        ...(s.spec.selector ? { selector: s.spec.selector } : {}),
        ...(s.spec.sessionAffinity ? { sessionAffinity: s.spec.sessionAffinity } : {}),
        ...(s.spec.sessionAffinity === 'ClientIP' && s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds !== undefined
          ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.spec.sessionAffinityConfig.clientIP.timeoutSeconds } } }
          : {}),
      },
      status: { endpoints: [] },
    };
    object.status.endpoints = computeEndpoints(object, podsByLabel, s.spec.publishNotReadyAddresses === true);

    if (!previous || previous.spec.clusterIP !== clusterIP || !deepEqual(previous.spec.ports.map((p) => p.nodePort), ports.map((p) => p.nodePort))) {
      pass.actions.push({ type: 'allocateService', service: key, clusterIP, nodePorts: ports.flatMap((p) => (p.nodePort ? [p.nodePort] : [])) });
    }
    diffEndpoints(pass, key, previous?.status.endpoints ?? [], object.status.endpoints);
    const out = previous && deepEqual(previous, object) ? previous : object;
    pass.next.services.set(key, out);
    memo.out = out;
    memo.candidates = candidates;
  }

  lastClaims = allocated ? undefined : lastClaims;

  // Every desired Service is in the next state by now: the others were removed from Git.
  for (const [key, previous] of pass.observed.services) {
    if (pass.next.services.has(key)) continue;
    pass.actions.push({ type: 'releaseService', service: key, clusterIP: previous.spec.clusterIP });
  }
}

function diffEndpoints(pass: Pass, service: string, before: Endpoints, after: Endpoints): void {
  for (const port of after) {
    const old = new Set((before.find((p) => p.port === port.port)?.addresses ?? []).map((a) => `${a.ip}:${a.port}`));
    const now = new Set(port.addresses.map((a) => `${a.ip}:${a.port}`));
    const added = [...now].filter((a) => !old.has(a));
    const removed = [...old].filter((a) => !now.has(a));
    if (added.length || removed.length) pass.actions.push({ type: 'endpoints', service, port: port.port, added, removed });
  }
}

/** Hash of namespace/name into the CIDR (skipping network and broadcast addresses and the first host), then the next free one. */
export function allocateIP(cidr: ReturnType<typeof parseCidr>, key: string, used: Set<string>): string {
  const usable = cidr.size - 3;
  if (usable <= 0) throw new RangeFull(`service CIDR /${cidr.bits} is too small`, { serviceCIDR: `${numberToIp(cidr.base)}/${cidr.bits}` });
  const start = stableHash(key) % usable;
  for (let i = 0; i < usable; i++) {
    const ip = numberToIp(cidr.base + 2 + ((start + i) % usable));
    if (!used.has(ip)) {
      used.add(ip);
      return ip;
    }
  }
  throw new RangeFull(`service CIDR ${numberToIp(cidr.base)}/${cidr.bits} is full (${usable} addresses)`, { serviceCIDR: `${numberToIp(cidr.base)}/${cidr.bits}` });
}

export function allocatePort(key: string, low: number, high: number, used: Set<number>): number {
  const size = high - low + 1;
  const start = stableHash(key) % size;
  for (let i = 0; i < size; i++) {
    const port = low + ((start + i) % size);
    if (!used.has(port)) {
      used.add(port);
      return port;
    }
  }
  throw new RangeFull(`node port range ${low}-${high} is full`, { nodePortRange: `${low}-${high}` });
}
