/**
 * What the engine loop needs from the layers below it, as narrow interfaces.
 * adapters.ts wires the real source, hosts, status and controllers to these;
 * the loop's unit test wires fakes. The loop never imports a concrete layer.
 */
import type { NodeDesiredState, WatchResponse } from '../../common/agent-api.ts';
import type { ObservedState } from '../model.ts';

/** A manifest object as the manifests layer produces it (only what the loop reads). */
export interface DesiredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  [field: string]: unknown;
}

/** The desired objects of one commit (engine/manifests ObjectStore). */
export interface DesiredStore {
  list(kind: string, namespace?: string): DesiredObject[];
  all(): DesiredObject[];
}

export interface DesiredError {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** What the source knows: the last valid commit, and the newer commit it refused. */
export interface DesiredView {
  applied?: { commit: string; store: DesiredStore };
  refused?: { commit: string; errors: DesiredError[] };
}

export interface DesiredFeed {
  /**
   * Reads the branch once, then calls `changed` for every new commit until stop().
   * `restored.appliedCommit` (from the status branch) stays applied when the tip is refused at start.
   */
  start(changed: () => void, restored?: { appliedCommit?: string }): Promise<void>;
  current(): DesiredView;
  stop(): Promise<void>;
}

export type HostConnection =
  | { state: 'connecting' }
  | { state: 'connected' }
  | { state: 'unreachable'; reason: string }
  | { state: 'refused'; code: string; reason: string };

export type FleetEvent =
  /** A (re)connected agent: what it has accepted so far (undefined: nothing yet). */
  | { type: 'connected'; node: string; accepted?: NodeDesiredState }
  | { type: 'connection'; node: string; connection: HostConnection }
  | { type: 'watch'; node: string; response: WatchResponse };

/** The hosts layer: one connection and agent per Node in Git. */
export interface HostFleet {
  /** Connect to these Nodes (objects of kind Node from Git), disconnect from the others. */
  sync(nodes: DesiredObject[]): void;
  subscribe(listener: (event: FleetEvent) => void): void;
  /** PUT /v1/desired; resolves with the generation the agent accepted, rejects with StaleGeneration or AgentUnreachable. */
  putDesired(node: string, state: NodeDesiredState): Promise<number>;
  close(): Promise<void>;
}

export interface StatusCause {
  /** The desired commit observed state was reconciled against (undefined before any valid commit). */
  desiredCommit?: string;
  reason?: string;
  /** A newer desired commit that was refused (its errors are in observed.errors). */
  refusedCommit?: string;
}

/** The status branch writer: batches, commits only observable changes. */
export interface StatusSink {
  update(observed: ObservedState, cause: StatusCause): void;
  /** Commits what is pending now; resolves with the new commit, if one was made. */
  flush(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface ReconcileInput {
  desired: DesiredStore;
  commit: string;
  observed: ObservedState;
  now: Date;
}

export interface ReconcileResult {
  actions: unknown[];
  observed: ObservedState;
  nodeStates: Map<string, Omit<NodeDesiredState, 'generation'>>;
  requeueAfterMs?: number;
}

/** engine/controllers reconcile: pure and deterministic. */
export type ReconcileFn = (input: ReconcileInput) => ReconcileResult;
