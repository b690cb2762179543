/**
 * Observed state as a stream of changes with sequence numbers. A client
 * long-polls /v1/watch?since=SEQ and gets the changes after SEQ, or a whole
 * snapshot when SEQ is older than the retained history or from before this
 * agent started (sequence numbers start at the start time in milliseconds, so
 * a restarted agent's are always newer). Updates equal to what was last
 * recorded are dropped: only observable changes make a change.
 */
import type { NodeObservedState, ObservedChange, ObservedPod, ProxyTable, WatchResponse } from '../../common/agent-api.ts';

type Change = ObservedChange;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class ObservedStream {
  private seq: number;
  private readonly firstSeq: number;
  /** The newest sequence number dropped from history by retention: a client behind it needs a snapshot. */
  private dropped: number;
  private readonly history: Change[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly podKeys = new Map<string, string>();
  private nodeKey = '';
  private proxyKey = '';

  constructor(readonly state: NodeObservedState, private readonly retain = 2000, startSeq = Date.now()) {
    this.seq = startSeq;
    this.firstSeq = startSeq;
    this.dropped = startSeq;
  }

  get currentSeq(): number {
    return this.seq;
  }

  snapshot(): { seq: number; state: NodeObservedState } {
    return { seq: this.seq, state: this.state };
  }

  /** Records a pod's status; usage is live data and never makes a change on its own. */
  setPod(pod: ObservedPod): boolean {
    const i = this.state.pods.findIndex((p) => p.uid === pod.uid);
    if (i >= 0) this.state.pods[i] = pod; else this.state.pods.push(pod);
    const key = JSON.stringify({ ...pod, usage: undefined });
    if (this.podKeys.get(pod.uid) === key) return false;
    this.podKeys.set(pod.uid, key);
    this.push({ type: 'pod', pod });
    return true;
  }

  deletePod(uid: string): boolean {
    const i = this.state.pods.findIndex((p) => p.uid === uid);
    if (i < 0) return false;
    const [pod] = this.state.pods.splice(i, 1);
    this.podKeys.delete(uid);
    this.push({ type: 'podDeleted', uid, namespace: pod.namespace, name: pod.name });
    return true;
  }

  /** Records node-level state (generation, conditions, capacity, images). */
  setNode(update: Pick<NodeObservedState, 'generation' | 'conditions' | 'capacity' | 'allocatable' | 'images'>): boolean {
    Object.assign(this.state, update);
    const key = JSON.stringify([update.generation, update.conditions.map((c) => [c.type, c.status, c.reason]), update.capacity, update.allocatable, update.images]);
    if (key === this.nodeKey) return false;
    this.nodeKey = key;
    this.push({ type: 'node', ...update });
    return true;
  }

  setProxy(proxy: ProxyTable): boolean {
    this.state.proxy = proxy;
    const key = JSON.stringify(proxy);
    if (key === this.proxyKey) return false;
    this.proxyKey = key;
    this.push({ type: 'proxy', proxy });
    return true;
  }

  heartbeat(time = new Date().toISOString()): void {
    this.state.heartbeatTime = time;
    // One heartbeat in history is enough: drop the previous one if it is the newest entry.
    if (this.history.at(-1)?.type === 'heartbeat') this.history.pop();
    this.push({ type: 'heartbeat', time });
  }

  /** The answer to a watch from `since`, without waiting. */
  since(since: number): WatchResponse {
    if (since < this.firstSeq || since > this.seq || since < this.dropped) return { seq: this.seq, snapshot: this.state, changes: [] };
    return { seq: this.seq, changes: this.history.filter((c) => c.seq > since) };
  }

  /** Long-poll: resolves as soon as there is something after `since`, or at the timeout with no changes. */
  async watch(since: number, timeoutMs: number, signal?: AbortSignal): Promise<WatchResponse> {
    const now = this.since(since);
    if (now.snapshot || now.changes.length > 0 || timeoutMs <= 0) return now;
    await new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); this.waiters.delete(done); signal?.removeEventListener('abort', done); resolve(); };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done);
    });
    return this.since(since);
  }

  private push(change: DistributiveOmit<Change, 'seq'>): void {
    this.seq += 1;
    this.history.push({ ...change, seq: this.seq } as Change);
    if (this.history.length > this.retain) {
      const removed = this.history.splice(0, this.history.length - this.retain);
      this.dropped = removed[removed.length - 1].seq;
    }
    for (const w of [...this.waiters]) w();
  }
}
