/**
 * The IPVS proxier: one virtual server per Service port (and per NodePort on
 * the node address), masquerading real servers, VIPs bound to an interface of
 * our own (`cox-ipvs0`, as kube-proxy's kube-ipvs0) so the kernel takes the
 * traffic locally where IPVS sees it. Each sync reads the kernel's table,
 * plans the difference and applies it with one `ipvsadm --restore`.
 *
 * IPVS cannot reject or masquerade, so a small nft table (`ip cox_ipvs`, same
 * renderer with load balancing off) rejects Services without endpoints and
 * masquerades hairpin and NodePort traffic.
 *
 * Ours are exactly: virtual servers on an address bound to cox-ipvs0, and
 * the NodePort virtual servers we programmed (owned-nodeports.ts). Another
 * virtual server on the node address is someone else's and stays.
 */
import type { DesiredService, ProxyTable } from '../../common/agent-api.ts';
import { ServiceChangeTracker, isEmpty } from './change-tracker.ts';
import { ipvsUdpFlush } from './conntrack.ts';
import { ProxyCommandFailed, mustRun, type CommandResult, type Executor } from './exec.ts';
import { parseAddresses, parseIpvsSave, planIpvs, renderAddressBatch, virtualKey as virtualKeyOf, wantedVirtualServers, type VirtualServer } from './ipvs-render.ts';
import { NFT_IPVS_TABLE, NFT_TABLE, renderFull, renderIncremental } from './nft-render.ts';
import { OwnedNodePorts } from './owned-nodeports.ts';
import { proxyTable, servicePorts } from './service-ports.ts';
import type { Proxier, ProxyContext, SyncReport } from './types.ts';

export const IPVS_DEVICE = 'cox-ipvs0';

export interface IpvsProxierOptions {
  /** IPVS scheduler for every virtual server (`rr`, `wrr`, `lc`, `sh`, ...). */
  scheduler?: string;
  /** How long a removed real server stays at weight 0 before it is deleted (on a later sync). */
  drainMs?: number;
  device?: string;
  table?: string;
  /** The nftables proxier's table, removed on the first sync (left by an agent that ran in nftables mode). */
  nftablesTable?: string;
  /** The agent's state dir: where the NodePort virtual servers we programmed are remembered (memory only without it). */
  stateDir?: string;
  now?: () => number;
}

/** `nft -f` input removing a table whether or not it exists (nft 1.0.6 has no `destroy`). */
export function deleteTableScript(table: string): string {
  return `add table ip ${table}\ndelete table ip ${table}\n`;
}

/** Like exec.run, but a command that cannot be started (ipvsadm not installed) is an exit code, not a throw. */
async function tryRun(exec: Executor, argv: string[]): Promise<CommandResult> {
  try {
    return await exec.run(argv);
  } catch (err) {
    if (err instanceof ProxyCommandFailed) return { code: -1, stdout: '', stderr: err.message };
    throw err;
  }
}

/**
 * Removes every object of the ipvs proxier and nothing else: the virtual
 * servers on cox-ipvs0's addresses and the recorded NodePort ones, the
 * interface, the helper nft table. Used by its cleanup, and by the nftables
 * proxier's first sync (an agent restarted in the other mode).
 */
export async function removeIpvsObjects(exec: Executor, o: { device: string; table: string; nodePorts: OwnedNodePorts }): Promise<void> {
  const addresses = await tryRun(exec, ['ip', '-4', '-o', 'address', 'show', 'dev', o.device]);
  const vips = addresses.code === 0 ? parseAddresses(addresses.stdout) : new Set<string>();
  const recorded = await o.nodePorts.load();
  // ipvsadm loads the ip_vs module when it is not loaded (it runs modprobe): a node where IPVS never ran is left as it is.
  const loaded = (await tryRun(exec, ['test', '-e', '/proc/net/ip_vs'])).code === 0;
  const save = loaded ? await tryRun(exec, ['ipvsadm', '-S', '-n']) : undefined;
  if (save?.code === 0) {
    const lines = [...parseIpvsSave(save.stdout)].filter(([key, v]) => vips.has(v.address) || recorded.has(key)).map(([key]) => `-D ${key}`);
    if (lines.length) await mustRun(exec, ['ipvsadm', '--restore'], lines.join('\n') + '\n');
  }
  if (addresses.code === 0) await mustRun(exec, ['ip', 'link', 'del', o.device]);
  await mustRun(exec, ['nft', '-f', '-'], deleteTableScript(o.table));
  await o.nodePorts.save([]);
}

export class IpvsProxier implements Proxier {
  readonly mode = 'ipvs' as const;
  readonly scheduler: string;
  readonly device: string;
  readonly table: string;
  readonly nftablesTable: string;
  readonly #drainMs: number;
  readonly #nodePorts: OwnedNodePorts;
  /** The other mode's leftovers are removed once, on the first sync. */
  #otherModeRemoved = false;
  readonly #now: () => number;
  /** "vkey|real" -> when its drain began. */
  #draining = new Map<string, number>();
  #nftTracker = new ServiceChangeTracker();
  #nftContext: string | undefined;
  #prepared = false;
  #lastSync: SyncReport | undefined;

  constructor(
    private readonly exec: Executor,
    opts: IpvsProxierOptions = {},
  ) {
    this.scheduler = opts.scheduler ?? 'rr';
    this.device = opts.device ?? IPVS_DEVICE;
    this.table = opts.table ?? NFT_IPVS_TABLE;
    this.nftablesTable = opts.nftablesTable ?? NFT_TABLE;
    this.#nodePorts = new OwnedNodePorts(opts.stateDir);
    this.#drainMs = opts.drainMs ?? 0;
    this.#now = opts.now ?? Date.now;
  }

  get lastSync(): SyncReport | undefined {
    return this.#lastSync;
  }

  /**
   * The VIP interface; conntrack for IPVS so nft can masquerade its connections; and, as kube-proxy sets them,
   * connections to a deleted real server expire on their next packet instead of being dropped, as do persistence
   * templates to a real server at weight 0 (a drained ClientIP client moves on).
   */
  async #prepare(): Promise<void> {
    if (this.#prepared) return;
    const link = await this.exec.run(['ip', 'link', 'show', 'dev', this.device]);
    if (link.code !== 0) await mustRun(this.exec, ['ip', 'link', 'add', this.device, 'type', 'dummy']);
    await mustRun(this.exec, ['ip', 'link', 'set', this.device, 'up']);
    await mustRun(this.exec, ['sysctl', '-q', '-w', 'net.ipv4.vs.conntrack=1', 'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1']);
    this.#prepared = true;
  }

  async sync(services: DesiredService[], ctx: ProxyContext): Promise<ProxyTable> {
    const started = performance.now();
    if (!this.#otherModeRemoved) {
      // An agent that ran in nftables mode before this one left its table: it would DNAT the VIPs before IPVS sees them.
      await mustRun(this.exec, ['nft', '-f', '-'], deleteTableScript(this.nftablesTable));
      this.#otherModeRemoved = true;
    }
    await this.#prepare();
    const wanted = servicePorts(services);
    const warnings: string[] = [];

    // VIPs on our interface; its addresses tell which virtual servers are ours.
    const currentVips = parseAddresses((await mustRun(this.exec, ['ip', '-4', '-o', 'address', 'show', 'dev', this.device])).stdout);
    const wantedVips = new Set(wanted.map((p) => p.vip));
    const batch = renderAddressBatch(this.device, currentVips, wantedVips);

    const desired = wantedVirtualServers(wanted, { scheduler: this.scheduler, nodeAddress: ctx.nodeAddress });
    const nodePorts = [...desired.values()].filter((v) => v.address === ctx.nodeAddress).map(virtualKeyOf);
    const recorded = await this.#nodePorts.load();
    // A wanted virtual server already in the kernel is taken over (an earlier agent's, or -A would fail).
    const isOurs = (key: string, v: VirtualServer) => currentVips.has(v.address) || recorded.has(key) || desired.has(key);
    const current = new Map<string, VirtualServer>();
    for (const [key, v] of parseIpvsSave((await mustRun(this.exec, ['ipvsadm', '-S', '-n'])).stdout)) if (isOurs(key, v)) current.set(key, v);
    const now = this.#now();
    const plan = planIpvs(current, desired, (vkey, real) => {
      // A real server found at weight 0 that we did not drain ourselves (an agent restart) starts its drain now.
      const key = `${vkey}|${real}`;
      if (!this.#draining.has(key)) this.#draining.set(key, now);
      return now - this.#draining.get(key)! >= this.#drainMs;
    });

    // Add VIPs before their virtual servers exist is harmless; removing them after is cleaner.
    const adds = batch.split('\n').filter((l) => l.startsWith('address add')).join('\n');
    const dels = batch.split('\n').filter((l) => l.startsWith('address del')).join('\n');
    if (adds) await mustRun(this.exec, ['ip', '-batch', '-'], adds + '\n');
    if (plan.restore) {
      await this.#nodePorts.save([...recorded, ...nodePorts]);
      await mustRun(this.exec, ['ipvsadm', '--restore'], plan.restore);
    }
    await this.#nodePorts.save(nodePorts);
    if (dels) await mustRun(this.exec, ['ip', '-batch', '-'], dels + '\n');

    for (const d of plan.drained) this.#draining.set(d, now);
    for (const d of plan.deleted) this.#draining.delete(d);
    for (const key of this.#draining.keys()) if (!desired.has(key.split('|')[0])) this.#draining.delete(key);
    const flushes = [
      ...plan.shrunk.filter((s) => s.server.protocol === 'udp').flatMap((s) => s.reals.map((real) => ipvsUdpFlush(s.server, real))),
      ...plan.removed.filter((v) => v.protocol === 'udp').flatMap((v) => [...v.reals.keys()].map((real) => ipvsUdpFlush(v, real))),
    ];
    for (const argv of flushes) {
      const r = await this.exec.run(argv);
      if (r.code > 1) warnings.push(`${argv.join(' ')}: ${r.stderr.trim()}`);
    }

    // The helper table: reject without endpoints, hairpin and NodePort masquerade.
    const contextKey = JSON.stringify([ctx.nodeAddress, ctx.podCIDR, ctx.clusterCIDR]);
    const nftOpts = { table: this.table, loadBalance: false };
    const changes = this.#nftTracker.changes(wanted);
    const full = this.#nftContext !== contextKey;
    const script = full ? renderFull(wanted, ctx, nftOpts) : isEmpty(changes) ? '' : renderIncremental(changes, ctx, nftOpts);
    try {
      if (script) await mustRun(this.exec, ['nft', '-f', '-'], script);
    } catch (err) {
      this.#nftContext = undefined;
      throw err;
    }
    this.#nftTracker.commit(wanted);
    this.#nftContext = contextKey;

    this.#lastSync = {
      full,
      changed: plan.restore ? plan.restore.split('\n').length - 1 : 0,
      scriptBytes: plan.restore.length + script.length,
      durationMs: performance.now() - started,
      warnings,
    };
    return proxyTable('ipvs', wanted, this.scheduler);
  }

  async cleanup(): Promise<void> {
    await removeIpvsObjects(this.exec, { device: this.device, table: this.table, nodePorts: this.#nodePorts });
    this.#nftTracker.reset();
    this.#nftContext = undefined;
    this.#draining.clear();
    this.#prepared = false;
  }
}
