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
 */
import type { DesiredService, ProxyTable } from '../../common/agent-api.ts';
import { ServiceChangeTracker, isEmpty } from './change-tracker.ts';
import { ipvsUdpFlush } from './conntrack.ts';
import { mustRun, type Executor } from './exec.ts';
import { parseAddresses, parseIpvsSave, planIpvs, renderAddressBatch, wantedVirtualServers, type VirtualServer } from './ipvs-render.ts';
import { NFT_IPVS_TABLE, renderFull, renderIncremental } from './nft-render.ts';
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
  now?: () => number;
}

export class IpvsProxier implements Proxier {
  readonly mode = 'ipvs' as const;
  readonly scheduler: string;
  readonly device: string;
  readonly table: string;
  readonly #drainMs: number;
  readonly #now: () => number;
  /** "vkey|real" -> when its drain began. */
  #draining = new Map<string, number>();
  #nftTracker = new ServiceChangeTracker();
  #nftContext: string | undefined;
  #prepared = false;
  #nodeAddress: string | undefined;
  #lastSync: SyncReport | undefined;

  constructor(
    private readonly exec: Executor,
    opts: IpvsProxierOptions = {},
  ) {
    this.scheduler = opts.scheduler ?? 'rr';
    this.device = opts.device ?? IPVS_DEVICE;
    this.table = opts.table ?? NFT_IPVS_TABLE;
    this.#drainMs = opts.drainMs ?? 0;
    this.#now = opts.now ?? Date.now;
  }

  get lastSync(): SyncReport | undefined {
    return this.#lastSync;
  }

  /** The VIP interface, and conntrack for IPVS so nft can masquerade its connections. */
  async #prepare(): Promise<void> {
    if (this.#prepared) return;
    const link = await this.exec.run(['ip', 'link', 'show', 'dev', this.device]);
    if (link.code !== 0) await mustRun(this.exec, ['ip', 'link', 'add', this.device, 'type', 'dummy']);
    await mustRun(this.exec, ['ip', 'link', 'set', this.device, 'up']);
    await mustRun(this.exec, ['sysctl', '-q', '-w', 'net.ipv4.vs.conntrack=1']);
    this.#prepared = true;
  }

  async sync(services: DesiredService[], ctx: ProxyContext): Promise<ProxyTable> {
    const started = performance.now();
    await this.#prepare();
    const wanted = servicePorts(services);
    const warnings: string[] = [];
    this.#nodeAddress = ctx.nodeAddress;

    // VIPs on our interface; its addresses tell which virtual servers are ours.
    const currentVips = parseAddresses((await mustRun(this.exec, ['ip', '-4', '-o', 'address', 'show', 'dev', this.device])).stdout);
    const wantedVips = new Set(wanted.map((p) => p.vip));
    const batch = renderAddressBatch(this.device, currentVips, wantedVips);

    const owned = new Set([...currentVips, ...wantedVips, ctx.nodeAddress]);
    const current = new Map<string, VirtualServer>();
    for (const [key, v] of parseIpvsSave((await mustRun(this.exec, ['ipvsadm', '-S', '-n'])).stdout)) if (owned.has(v.address)) current.set(key, v);
    const desired = wantedVirtualServers(wanted, { scheduler: this.scheduler, nodeAddress: ctx.nodeAddress });
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
    if (plan.restore) await mustRun(this.exec, ['ipvsadm', '--restore'], plan.restore);
    if (dels) await mustRun(this.exec, ['ip', '-batch', '-'], dels + '\n');

    for (const d of plan.drained) this.#draining.set(d, now);
    for (const d of plan.deleted) this.#draining.delete(d);
    for (const key of this.#draining.keys()) if (!desired.has(key.split('|')[0])) this.#draining.delete(key);
    for (const v of plan.shrunk) {
      if (v.protocol !== 'udp') continue;
      const argv = ipvsUdpFlush(v.address);
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
    const vips = (await this.exec.run(['ip', '-4', '-o', 'address', 'show', 'dev', this.device])).stdout;
    const owned = parseAddresses(vips);
    if (this.#nodeAddress) owned.add(this.#nodeAddress);
    const save = await this.exec.run(['ipvsadm', '-S', '-n']);
    if (save.code === 0) {
      const lines = [...parseIpvsSave(save.stdout).entries()].filter(([, v]) => owned.has(v.address)).map(([key]) => `-D ${key}`);
      if (lines.length) await mustRun(this.exec, ['ipvsadm', '--restore'], lines.join('\n') + '\n');
    }
    if ((await this.exec.run(['ip', 'link', 'show', 'dev', this.device])).code === 0) await mustRun(this.exec, ['ip', 'link', 'del', this.device]);
    await mustRun(this.exec, ['nft', '-f', '-'], `add table ip ${this.table}\ndelete table ip ${this.table}\n`);
    this.#nftTracker.reset();
    this.#nftContext = undefined;
    this.#draining.clear();
    this.#prepared = false;
  }
}
