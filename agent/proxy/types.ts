/** The proxy contract, apart from its implementations: the agent imports this and `createProxier` only. */
import type { DesiredService, ProxyTable } from '../../common/agent-api.ts';

export interface ProxyContext {
  /** This node's address: NodePorts listen here. */
  nodeAddress: string;
  /** This node's pod subnet: its pods may reach themselves through a Service (hairpin). */
  podCIDR: string;
  /** The whole cluster's pod range. */
  clusterCIDR: string;
}

export interface Proxier {
  readonly mode: 'ipvs' | 'nftables';
  /**
   * Converges the kernel to `services` (the node's whole desired set, not a
   * delta) and returns the table now programmed. Idempotent; a failed sync
   * throws and the next one starts over from a full resync.
   */
  sync(services: DesiredService[], ctx: ProxyContext): Promise<ProxyTable>;
  /** Removes everything this proxier owns (its nft table; for ipvs also its virtual servers and VIP interface). */
  cleanup(): Promise<void>;
}

/** What the last sync did, for logs, metrics and the benchmark. */
export interface SyncReport {
  full: boolean;
  /** ServicePorts rewritten (all of them on a full sync). */
  changed: number;
  scriptBytes: number;
  durationMs: number;
  /** Failures that did not fail the sync (a conntrack flush). */
  warnings: string[];
}
