/**
 * The pod network of one node (host-gw):
 * - a runtime network for the node's pod subnet (created as `coxswain`, or an
 *   existing network that already holds exactly that subnet is used as is);
 * - a route to every peer's pod subnet via the peer's address, tagged with
 *   the agent's own route protocol number so only those are ever replaced or
 *   deleted;
 * - an nft table of the agent's own, `ip cox_net`: pod-to-pod traffic inside
 *   the cluster CIDR keeps its source address, pod egress leaving it is
 *   masqueraded. The runtime (netavark) masquerades everything leaving the
 *   pod subnet in its own table at priority srcnat; our chain runs first
 *   (srcnat - 10) and binds pod-to-pod connections with an identity SNAT, and
 *   the kernel runs no later NAT chain for a connection already bound.
 *   Connections a service proxy DNATed are left to the proxy's own rules;
 * - the pod bridge's MAC address pinned (see bridgeMac).
 * Commands are built as data (argv arrays, an nft script) and run in one place.
 * A sync with `resync` reads all of it back (runtime network, routes, the
 * table as the kernel lists it, ip_forward) and repairs only what differs:
 * a route deleted by hand comes back, a table that is as it was stays as is.
 */
import { execFile } from 'node:child_process';

import type { NodeDesiredState, PodRoute } from '../../common/agent-api.ts';
import { CoxError } from '../../common/errors.ts';
import type { ContainerRuntime } from '../runtime/types.ts';


/** The route protocol number that marks routes as the agent's: unassigned in iproute2's rt_protos (186-192 are bgp, isis, ospf, rip, eigrp). */
export const ROUTE_PROTO = 147;
export const NFT_TABLE = 'cox_net';
export const NETWORK_NAME = 'coxswain';

export interface InstalledRoute {
  dst: string;
  gateway?: string;
}

/** Commands that make this node's agent-owned routes equal `desired`. */
export function routeCommands(desired: PodRoute[], installed: InstalledRoute[]): string[][] {
  const cmds: string[][] = [];
  const want = new Map(desired.map((r) => [r.cidr, r.via]));
  for (const r of installed) if (!want.has(r.dst)) cmds.push(['ip', 'route', 'del', r.dst, 'proto', String(ROUTE_PROTO)]);
  for (const [cidr, via] of [...want].sort()) {
    if (installed.some((r) => r.dst === cidr && r.gateway === via)) continue;
    cmds.push(['ip', 'route', 'replace', cidr, 'via', via, 'proto', String(ROUTE_PROTO)]);
  }
  return cmds;
}

/** The whole `cox_net` table, replaced atomically by one `nft -f`. */
export function nftScript(podCIDR: string, clusterCIDR: string): string {
  return [
    `table ip ${NFT_TABLE}`,
    `delete table ip ${NFT_TABLE}`,
    `table ip ${NFT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat - 10; policy accept;',
    '    ct status dnat return',
    `    ip saddr ${podCIDR} ip daddr ${clusterCIDR} snat ip to ip saddr`,
    `    ip saddr ${podCIDR} ip daddr != ${clusterCIDR} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function gatewayOf(cidr: string): string {
  const [addr] = cidr.split('/');
  const parts = addr.split('.').map(Number);
  parts[3] += 1;
  return parts.join('.');
}

/**
 * The MAC address the pod bridge keeps: 0a:58 then the gateway's four octets
 * (kubenet's scheme), a locally administered unicast address. Left alone, a
 * Linux bridge takes the lowest MAC of its ports, so it changes whenever the
 * sandbox owning that port comes or goes. Pods keep the gateway's old MAC in
 * their neighbour cache, and everything they send to or through their host
 * (replies to probes, to clients, to other hosts) is lost until that entry is
 * re-probed, tens of seconds later. Netavark before 1.9 leaves the address
 * unset; the kernel keeps an address set by hand whatever ports come and go.
 */
export function bridgeMac(gateway: string): string {
  return ['0a', '58', ...gateway.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0'))].join(':');
}

/** What `ip -j -d -4 addr show` says of a link, as far as pinning the bridge needs. */
export interface HostLink {
  ifname: string;
  address?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { local?: string }[];
}

/** The command that pins the bridge holding the pod subnet's gateway to bridgeMac; none when it is pinned, or not there yet (the runtime creates it with the first sandbox). */
export function pinBridgeCommands(links: HostLink[], podCIDR: string): string[][] {
  const gateway = gatewayOf(podCIDR);
  const bridge = links.find((l) => l.linkinfo?.info_kind === 'bridge' && (l.addr_info ?? []).some((a) => a.local === gateway));
  const mac = bridgeMac(gateway);
  if (!bridge || bridge.address === mac) return [];
  return [['ip', 'link', 'set', 'dev', bridge.ifname, 'address', mac]];
}

export class NetworkError extends CoxError {
  constructor(step: string, message: string) {
    super('NetworkError', `pod network: ${step}: ${message}`, { step });
  }
}

export interface NetworkState {
  /** The runtime network pods join. */
  network: string;
  routes: PodRoute[];
}

export interface SyncOptions {
  /** Check the kernel's state even when the desired state did not change, and repair what differs. */
  resync?: boolean;
}

export class PodNetwork {
  network: string | undefined;
  private applied = '';
  private podCIDR: string | undefined;
  /** The script last loaded into cox_net, and the table as the kernel listed it right after. */
  private nftApplied: { script: string; listing: string } | undefined;
  readonly counters = { routeChanges: 0, nftLoads: 0 };

  constructor(private readonly runtime: ContainerRuntime, private readonly exec: (argv: string[], input?: string) => Promise<string> = defaultExec) {}

  /**
   * Converges network, routes and nft table to `desired`: a no-op when nothing
   * changed, unless `resync` asks to read the real state back and repair it.
   * Either way only what differs is changed.
   */
  async sync(desired: Pick<NodeDesiredState, 'podCIDR' | 'clusterCIDR' | 'routes'>, options: SyncOptions = {}): Promise<string> {
    const key = JSON.stringify([desired.podCIDR, desired.clusterCIDR, desired.routes]);
    if (this.network && key === this.applied && !options.resync) return this.network;
    this.applied = '';
    this.network = await this.ensureRuntimeNetwork(desired.podCIDR);
    this.podCIDR = desired.podCIDR;
    await this.pinBridge();
    const installed = await this.installedRoutes();
    for (const cmd of routeCommands(desired.routes, installed)) { this.counters.routeChanges += 1; await this.exec(cmd); }
    await this.syncTable(nftScript(desired.podCIDR, desired.clusterCIDR));
    if ((await this.exec(['sysctl', '-n', 'net.ipv4.ip_forward'])).trim() !== '1') await this.exec(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    this.applied = key;
    return this.network;
  }

  /**
   * Loads the cox_net table unless the kernel lists it exactly as it did right
   * after the last load of this same script (a missing table fails to list).
   */
  private async syncTable(script: string): Promise<void> {
    if (this.nftApplied?.script === script) {
      const listing = await this.listTable();
      if (listing === this.nftApplied.listing) return;
    }
    this.counters.nftLoads += 1;
    await this.exec(['nft', '-f', '-'], script);
    this.nftApplied = { script, listing: await this.listTable() ?? '' };
  }

  private async listTable(): Promise<string | undefined> {
    return this.exec(['nft', 'list', 'table', 'ip', NFT_TABLE]).catch(() => undefined);
  }

  async ensureRuntimeNetwork(podCIDR: string): Promise<string> {
    const networks = await this.runtime.listNetworks();
    const own = networks.find((n) => n.name === NETWORK_NAME);
    if (own) {
      if (!own.subnets.includes(podCIDR)) throw new NetworkError(`network ${NETWORK_NAME}`, `has subnet ${own.subnets.join(', ')}, expected ${podCIDR}; remove it (no pods must use it) and restart the agent`);
      return own.name;
    }
    // A network that already holds the subnet (Podman's default one, configured for it) is used, never changed.
    // By id: Podman's Docker API lists its default network under Docker's alias "bridge", which it does not resolve.
    const existing = networks.find((n) => n.subnets.includes(podCIDR));
    if (existing) return existing.id;
    await this.runtime.createNetwork({ name: NETWORK_NAME, subnet: podCIDR, gateway: gatewayOf(podCIDR), labels: { 'io.coxswain.managed': 'true' } });
    return NETWORK_NAME;
  }

  /**
   * Pins the pod bridge's MAC address (bridgeMac). Runs after every sandbox
   * start, before its containers do: the runtime creates the bridge with the
   * first sandbox and deletes it with the last one.
   */
  async pinBridge(): Promise<void> {
    if (!this.podCIDR) return;
    const links = JSON.parse((await this.exec(['ip', '-j', '-d', '-4', 'addr', 'show'])) || '[]') as HostLink[];
    for (const cmd of pinBridgeCommands(links, this.podCIDR)) await this.exec(cmd);
  }

  async installedRoutes(): Promise<InstalledRoute[]> {
    const out = await this.exec(['ip', '-j', 'route', 'show', 'proto', String(ROUTE_PROTO)]);
    return (JSON.parse(out || '[]') as { dst: string; gateway?: string }[]).map((r) => ({ dst: r.dst, gateway: r.gateway }));
  }

  /** Removes what the agent owns on the host (its routes and nft table); the runtime network stays for pods. */
  async cleanup(): Promise<void> {
    for (const cmd of routeCommands([], await this.installedRoutes())) await this.exec(cmd);
    await this.exec(['nft', '-f', '-'], `table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n`);
    this.applied = '';
    this.nftApplied = undefined;
  }
}

async function defaultExec(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0], argv.slice(1), { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new NetworkError(argv.join(' '), (stderr || err.message).trim()));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
