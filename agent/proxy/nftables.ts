/**
 * The nftables proxier: Services as one table of our own (`ip cox_proxy`),
 * loaded with `nft -f` as one transaction. The first sync (and any sync after
 * a failure) replaces the whole table; later ones rewrite only what changed.
 */
import type { DesiredService, ProxyTable } from '../../common/agent-api.ts';
import { ServiceChangeTracker, isEmpty } from './change-tracker.ts';
import { staleUdpFlushes } from './conntrack.ts';
import { mustRun, type Executor } from './exec.ts';
import { NFT_TABLE, needsNewLbChain, renderFull, renderIncremental } from './nft-render.ts';
import { proxyTable, servicePorts } from './service-ports.ts';
import type { Proxier, ProxyContext, SyncReport } from './types.ts';

export class NftablesProxier implements Proxier {
  readonly mode = 'nftables' as const;
  readonly table: string;
  #tracker = new ServiceChangeTracker();
  #appliedContext: string | undefined;
  #lastSync: SyncReport | undefined;

  constructor(
    private readonly exec: Executor,
    opts: { table?: string } = {},
  ) {
    this.table = opts.table ?? NFT_TABLE;
  }

  get lastSync(): SyncReport | undefined {
    return this.#lastSync;
  }

  async sync(services: DesiredService[], ctx: ProxyContext): Promise<ProxyTable> {
    const started = performance.now();
    const wanted = servicePorts(services);
    const contextKey = JSON.stringify([ctx.nodeAddress, ctx.podCIDR, ctx.clusterCIDR]);
    const opts = { table: this.table, loadBalance: true };
    const changes = this.#tracker.changes(wanted);
    const changed = [...changes.added, ...changes.updated.map((u) => u.after)];
    const full = this.#appliedContext !== contextKey || needsNewLbChain(changed, this.#tracker.applied.values(), opts);
    const script = full
      ? renderFull(wanted, ctx, opts)
      : isEmpty(changes)
        ? ''
        : renderIncremental(changes, ctx, opts);
    try {
      if (script) await mustRun(this.exec, ['nft', '-f', '-'], script);
    } catch (err) {
      this.#appliedContext = undefined; // retry the whole table next time
      throw err;
    }
    const warnings: string[] = [];
    if (!full) {
      for (const argv of staleUdpFlushes(changes)) {
        const r = await this.exec.run(argv);
        if (r.code > 1) warnings.push(`${argv.join(' ')}: ${r.stderr.trim()}`);
      }
    }
    this.#tracker.commit(wanted);
    this.#appliedContext = contextKey;
    this.#lastSync = {
      full,
      changed: full ? wanted.length : changes.added.length + changes.updated.length + changes.removed.length,
      scriptBytes: script.length,
      durationMs: performance.now() - started,
      warnings,
    };
    return proxyTable('nftables', wanted);
  }

  async cleanup(): Promise<void> {
    await mustRun(this.exec, ['nft', '-f', '-'], `add table ip ${this.table}\ndelete table ip ${this.table}\n`);
    this.#tracker.reset();
    this.#appliedContext = undefined;
  }
}
