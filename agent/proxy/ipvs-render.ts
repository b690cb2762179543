/**
 * IPVS as data: the table the kernel has (parsed from `ipvsadm -Sn`), the
 * table the ServicePorts want, and the `ipvsadm --restore` lines that turn
 * one into the other. Pure functions; the proxier runs the result.
 */
import { ipToNumber, type ServicePort } from './service-ports.ts';

export interface VirtualServer {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  scheduler: string;
  /** Seconds of persistence (ClientIP affinity); absent when not persistent. */
  persistence?: number;
  /** "ip:port" -> weight. */
  reals: Map<string, number>;
}

/** "-t 100.127.0.10:80" style identity of a virtual server. */
export function virtualKey(v: { protocol: 'tcp' | 'udp'; address: string; port: number }): string {
  return `${v.protocol === 'udp' ? '-u' : '-t'} ${v.address}:${v.port}`;
}

/** Parses `ipvsadm -Sn` (or `--save -n`) output into virtual servers keyed by virtualKey. */
export function parseIpvsSave(text: string): Map<string, VirtualServer> {
  const out = new Map<string, VirtualServer>();
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    if (words.length < 3) continue;
    const kind = words[0];
    const protoFlag = words[1];
    if (protoFlag !== '-t' && protoFlag !== '-u') continue; // fwmark services are never ours
    const [address, portText] = words[2].split(':');
    const key = `${protoFlag} ${address}:${portText}`;
    const flag = (name: string) => {
      const i = words.indexOf(name);
      return i >= 0 ? words[i + 1] : undefined;
    };
    if (kind === '-A') {
      const v: VirtualServer = { protocol: protoFlag === '-u' ? 'udp' : 'tcp', address, port: Number(portText), scheduler: flag('-s') ?? 'wlc', reals: new Map() };
      const p = flag('-p');
      if (p !== undefined) v.persistence = Number(p);
      out.set(key, v);
    } else if (kind === '-a') {
      const real = flag('-r');
      const v = out.get(key);
      if (real && v) v.reals.set(real, Number(flag('-w') ?? '1'));
    }
  }
  return out;
}

export interface IpvsOptions {
  scheduler: string;
  nodeAddress: string;
}

/** The virtual servers the ServicePorts want: VIP:port, and node address:nodePort for NodePorts. Services without endpoints get none (nft rejects them). */
export function wantedVirtualServers(ports: ServicePort[], opts: IpvsOptions): Map<string, VirtualServer> {
  const out = new Map<string, VirtualServer>();
  for (const p of ports) {
    if (p.endpoints.length === 0) continue;
    const protocol = p.protocol === 'UDP' ? 'udp' : 'tcp';
    const reals = new Map(p.endpoints.map((e) => [`${e.ip}:${e.port}`, 1]));
    const addresses: Array<[string, number]> = [[p.vip, p.port]];
    if (p.nodePort) addresses.push([opts.nodeAddress, p.nodePort]);
    for (const [address, port] of addresses) {
      const v: VirtualServer = { protocol, address, port, scheduler: opts.scheduler, reals: new Map(reals) };
      if (p.affinityTimeoutSeconds !== undefined) v.persistence = p.affinityTimeoutSeconds;
      out.set(virtualKey(v), v);
    }
  }
  return out;
}

function serviceLine(verb: '-A' | '-E', v: VirtualServer): string {
  return `${verb} ${virtualKey(v)} -s ${v.scheduler}${v.persistence !== undefined ? ` -p ${v.persistence}` : ''}`;
}

function realLine(verb: '-a' | '-e', v: VirtualServer, real: string, weight: number): string {
  return `${verb} ${virtualKey(v)} -r ${real} -m -w ${weight}`;
}

function realOrder(real: string): number {
  const colon = real.indexOf(':');
  return ipToNumber(real.slice(0, colon)) * 65536 + Number(real.slice(colon + 1));
}

function compareReal(a: string, b: string): number {
  return realOrder(a) - realOrder(b);
}

export interface IpvsPlan {
  /** `ipvsadm --restore` input; empty when nothing changes. */
  restore: string;
  /** Real servers set to weight 0 in this plan ("-t vip:port|ip:port"). */
  drained: string[];
  /** Real servers deleted in this plan (after an earlier drain). */
  deleted: string[];
  /** Virtual servers that lost real servers (drained in this plan), with those real servers: UDP ones get their conntrack entries flushed. */
  shrunk: Array<{ server: VirtualServer; reals: string[] }>;
  /** Virtual servers deleted in this plan, as they were (their real servers' UDP entries are flushed too). */
  removed: VirtualServer[];
}

/**
 * Lines turning `current` (only the virtual servers this proxier owns) into
 * `wanted`. A real server that is no longer wanted is first drained (weight
 * 0) and deleted on a later plan, once `mayDelete` says its drain is over; a
 * virtual server that is no longer wanted goes at once.
 */
export function planIpvs(
  current: Map<string, VirtualServer>,
  wanted: Map<string, VirtualServer>,
  mayDelete: (virtual: string, real: string) => boolean = () => true,
): IpvsPlan {
  const lines: string[] = [];
  const plan: IpvsPlan = { restore: '', drained: [], deleted: [], shrunk: [], removed: [] };
  const sortedKeys = (m: Map<string, unknown>) => [...m.keys()].sort();
  for (const key of sortedKeys(current)) {
    if (wanted.has(key)) continue;
    lines.push(`-D ${key}`);
    plan.removed.push(current.get(key)!);
  }
  for (const key of sortedKeys(wanted)) {
    const want = wanted.get(key)!;
    const have = current.get(key);
    if (!have) {
      lines.push(serviceLine('-A', want));
      // wantedVirtualServers fills reals in endpoint order, already sorted
      for (const [real, weight] of want.reals) lines.push(realLine('-a', want, real, weight));
      continue;
    }
    if (have.scheduler !== want.scheduler || have.persistence !== want.persistence) lines.push(serviceLine('-E', want));
    const shrunk: string[] = [];
    for (const real of [...new Set([...have.reals.keys(), ...want.reals.keys()])].sort(compareReal)) {
      const w = want.reals.get(real);
      const h = have.reals.get(real);
      if (h === undefined) lines.push(realLine('-a', want, real, w!));
      else if (w !== undefined && w !== h) lines.push(realLine('-e', want, real, w));
      else if (w === undefined && h !== 0) {
        lines.push(realLine('-e', want, real, 0));
        plan.drained.push(`${key}|${real}`);
        shrunk.push(real);
      } else if (w === undefined && h === 0 && mayDelete(key, real)) {
        lines.push(`-d ${key} -r ${real}`);
        plan.deleted.push(`${key}|${real}`);
      }
    }
    if (shrunk.length) plan.shrunk.push({ server: want, reals: shrunk });
  }
  plan.restore = lines.length ? lines.join('\n') + '\n' : '';
  return plan;
}

/** The whole restore input for a fresh kernel table (what the benchmark times). */
export function renderIpvsRestore(ports: ServicePort[], opts: IpvsOptions): string {
  return planIpvs(new Map(), wantedVirtualServers(ports, opts)).restore;
}

/** `ip -batch -` lines moving the VIP interface's addresses from `current` to `wanted`. */
export function renderAddressBatch(device: string, current: Set<string>, wanted: Set<string>): string {
  const lines: string[] = [];
  for (const a of [...current].sort()) if (!wanted.has(a)) lines.push(`address del ${a}/32 dev ${device}`);
  for (const a of [...wanted].sort()) if (!current.has(a)) lines.push(`address add ${a}/32 dev ${device}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** IPv4 addresses in `ip -4 -o address show dev X` output. */
export function parseAddresses(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)) out.add(m[1]);
  return out;
}
