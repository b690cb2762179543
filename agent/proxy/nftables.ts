/**
 * The nftables proxier: Services as one table of our own (`ip cox_proxy`),
 * each change one transaction. The first sync (and any sync after a failure)
 * replaces the whole table with `nft -f`; later ones rewrite only what
 * changed, through a long-lived `nft -i` (nft-session.ts) when the executor
 * can keep one running.
 *
 * Its first sync also removes what an agent in ipvs mode left on this node
 * (its virtual servers, cox-ipvs0, the `ip cox_ipvs` table): a mode change
 * across a restart leaves nothing of the other mode behind.
 */
import type { DesiredService, ProxyTable } from '../../common/agent-api.ts';
import { ServiceChangeTracker, isEmpty } from './change-tracker.ts';
import { staleUdpFlushes } from './conntrack.ts';
import { mustRun, type Executor } from './exec.ts';
import { IPVS_DEVICE, removeIpvsObjects } from './ipvs.ts';
import { NFT_IPVS_TABLE, NFT_TABLE, needsNewLbChain, renderFull, renderIncremental } from './nft-render.ts';
import { NftSession } from './nft-session.ts';
import { OwnedNodePorts } from './owned-nodeports.ts';
import { proxyTable, servicePorts } from './service-ports.ts';
import type { Proxier, ProxyContext, SyncReport } from './types.ts';

/** A session is renewed after this many scripts: nft -i keeps every line it read in memory. */
const SESSION_APPLIES = 1000;

export interface NftablesProxierOptions {
  table?: string;
  /** The ipvs proxier's objects, removed on the first sync: its interface and nft table, and the state dir remembering its NodePorts. */
  ipvsDevice?: string;
  ipvsTable?: string;
  stateDir?: string;
}

export class NftablesProxier implements Proxier {
  readonly mode = 'nftables' as const;
  readonly table: string;
  #tracker = new ServiceChangeTracker();
  #appliedContext: string | undefined;
  #lastSync: SyncReport | undefined;
  #session: NftSession | undefined;
  /** The node address the applied table matches NodePorts on. */
  #appliedNodeAddress: string | undefined;
  #otherModeRemoved = false;
  readonly #ipvs: { device: string; table: string; nodePorts: OwnedNodePorts };

  constructor(
    private readonly exec: Executor,
    opts: NftablesProxierOptions = {},
  ) {
    this.table = opts.table ?? NFT_TABLE;
    this.#ipvs = { device: opts.ipvsDevice ?? IPVS_DEVICE, table: opts.ipvsTable ?? NFT_IPVS_TABLE, nodePorts: new OwnedNodePorts(opts.stateDir) };
  }

  get lastSync(): SyncReport | undefined {
    return this.#lastSync;
  }

  async sync(services: DesiredService[], ctx: ProxyContext): Promise<ProxyTable> {
    const started = performance.now();
    if (!this.#otherModeRemoved) {
      await removeIpvsObjects(this.exec, this.#ipvs);
      this.#otherModeRemoved = true;
    }
    const wanted = servicePorts(services);
    const contextKey = JSON.stringify([ctx.nodeAddress, ctx.podCIDR, ctx.clusterCIDR]);
    const opts = { table: this.table, loadBalance: true };
    const changes = this.#tracker.changes(wanted);
    const changed = [...changes.added, ...changes.updated.map((u) => u.after)];
    // The session's nft died between syncs (killed, OOM): treated like a failed sync, a full resync and a new session.
    const sessionLost = this.#session !== undefined && !this.#session.alive;
    if (sessionLost) this.#closeSession();
    const full = sessionLost || this.#appliedContext !== contextKey || needsNewLbChain(changed, this.#tracker.applied.values(), opts);
    const script = full
      ? renderFull(wanted, ctx, opts)
      : isEmpty(changes)
        ? ''
        : renderIncremental(changes, ctx, opts);
    try {
      if (script) await this.#apply(script, full);
    } catch (err) {
      this.#appliedContext = undefined; // retry the whole table next time
      this.#closeSession();
      throw err;
    }
    // After a full sync too: it may follow a failed one, with endpoints gone since the last success.
    const warnings: string[] = [];
    for (const argv of staleUdpFlushes(changes, this.#appliedNodeAddress ?? ctx.nodeAddress)) {
      const r = await this.exec.run(argv);
      if (r.code > 1) warnings.push(`${argv.join(' ')}: ${r.stderr.trim()}`);
    }
    this.#tracker.commit(wanted);
    this.#appliedContext = contextKey;
    this.#appliedNodeAddress = ctx.nodeAddress;
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
    this.#closeSession();
    await mustRun(this.exec, ['nft', '-f', '-'], `add table ip ${this.table}\ndelete table ip ${this.table}\n`);
    this.#tracker.reset();
    this.#appliedContext = undefined;
  }

  /** The nft process of the session, while there is one (tests kill it to see the proxier recover). */
  get sessionPid(): number | undefined {
    return this.#session?.alive ? this.#session.pid : undefined;
  }

  /** Full tables go through `nft -f` (a spawn is nothing next to parsing 6 MB); changes through the session. */
  async #apply(script: string, full: boolean): Promise<void> {
    if (full || !this.exec.spawn) {
      await mustRun(this.exec, ['nft', '-f', '-'], script);
      return;
    }
    if (this.#session && this.#session.applied >= SESSION_APPLIES) this.#closeSession();
    this.#session ??= new NftSession({ spawn: (argv) => this.exec.spawn!(argv) });
    await this.#session.apply(script);
  }

  #closeSession(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}
