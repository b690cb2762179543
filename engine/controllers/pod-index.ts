/**
 * Indexes over the pods that are carried from pass to pass. Pods are
 * replaced, never changed in place, so what changed since the last pass is
 * found by identity (podChanges) and only those pods are filed again. A list
 * they touch is replaced by a new one: a list handed out never changes, so a
 * caller may compare lists by identity to skip work that would be the same.
 */
import type { PodObject } from '../model.ts';

export interface PodChanges {
  /** New pods and new objects of known pods, as [uid, pod] in the order of the current map. */
  arrived: Array<[string, PodObject]>;
  /** Pods no longer there and the objects that arrived pods replaced. */
  left: PodObject[];
}

/**
 * What changed from `filed` to `current`, or undefined when more than a
 * quarter of the pods arrived (filing everything afresh is cheaper then).
 */
export function podChanges(current: ReadonlyMap<string, PodObject>, filed: ReadonlyMap<string, PodObject>): PodChanges | undefined {
  const arrived: PodChanges['arrived'] = [];
  const left: PodObject[] = [];
  let kept = 0;
  for (const [uid, pod] of current) {
    const was = filed.get(uid);
    if (was === pod) {
      kept++;
      continue;
    }
    if (was) left.push(was);
    arrived.push([uid, pod]);
    if (arrived.length > current.size / 4) return undefined;
  }
  if (kept + left.length < filed.size) {
    for (const [uid, was] of filed) if (!current.has(uid)) left.push(was);
  }
  return { arrived, left };
}

interface Mark {
  epoch: number;
  at: number;
}

/**
 * The uids of the pods that changed, in order, pass after pass: those that
 * arrived or left between two passes (found once per pass by podChanges,
 * against a mirror of the pods the last pass ended with) and those each pass
 * set or dropped (setPod and dropPod note them). An index keeps a mark of how
 * far it has read and files again only the pods named since. A reset (the
 * first pass, a large change, a pass that never ended) makes every older
 * mark read as undefined: the index files everything afresh.
 */
export class PodHistory {
  private uids: string[] = [];
  private epoch = 0;
  private mirror = new Map<string, PodObject>();
  private passStart = 0;
  private inPass = false;

  /** At the start of a pass, over the pass's own copy of the observed pods. */
  beginPass(pods: ReadonlyMap<string, PodObject>): void {
    // A pass that threw noted what it did to a state that was thrown away.
    const trusted = !this.inPass && this.mirror.size > 0 && this.uids.length < 8 * pods.size + 1024;
    const changes = trusted ? podChanges(pods, this.mirror) : undefined;
    if (changes) {
      for (const pod of changes.left) {
        this.uids.push(pod.metadata.uid);
        this.mirror.delete(pod.metadata.uid);
      }
      for (const [uid, pod] of changes.arrived) {
        this.uids.push(uid);
        this.mirror.set(uid, pod);
      }
    } else {
      this.epoch++;
      this.uids = [];
      this.mirror = new Map(pods);
    }
    this.passStart = this.uids.length;
    this.inPass = true;
  }

  note(uid: string): void {
    this.uids.push(uid);
  }

  /** At the end of a pass: the mirror takes what the pass set and dropped. */
  endPass(pods: ReadonlyMap<string, PodObject>): void {
    for (let i = this.passStart; i < this.uids.length; i++) {
      const uid = this.uids[i];
      const pod = pods.get(uid);
      if (pod) this.mirror.set(uid, pod);
      else this.mirror.delete(uid);
    }
    this.inPass = false;
  }

  mark(): Mark {
    return { epoch: this.epoch, at: this.uids.length };
  }

  /** The uids noted since the mark (some more than once), or undefined when the mark is from before a reset. */
  since(mark: Mark | undefined): readonly string[] | undefined {
    if (!mark || mark.epoch !== this.epoch) return undefined;
    return this.uids.slice(mark.at);
  }
}

/** The history of every reconcile pass's pods (controllers/index.ts begins and ends each pass with it). */
export const podHistory = new PodHistory();

/**
 * Pods by the keys `keysOf` gives each; lists in `order` when given, else in
 * the order pods were filed. With a history, an update reads the uids noted
 * since the last one (the pods must then be the pass's next state, which the
 * history follows); without, it finds the changes with podChanges.
 */
export class PodIndex {
  private readonly filed = new Map<string, PodObject>();
  private lists = new Map<string, PodObject[]>();
  private mark: Mark | undefined;

  constructor(
    private readonly keysOf: (pod: PodObject) => readonly string[],
    private readonly order?: (a: PodObject, b: PodObject) => number,
    private readonly history?: PodHistory,
  ) {}

  /** Brings the index to exactly `pods`. */
  update(pods: ReadonlyMap<string, PodObject>): void {
    const changes = this.changes(pods);
    if (this.history) this.mark = this.history.mark();
    if (!changes) {
      this.rebuild(pods);
      return;
    }
    if (changes.arrived.length === 0 && changes.left.length === 0) return;
    const touched = new Map<string, PodObject[]>();
    const listFor = (key: string): PodObject[] => {
      let list = touched.get(key);
      if (!list) touched.set(key, (list = [...(this.lists.get(key) ?? [])]));
      return list;
    };
    for (const pod of changes.left) {
      this.filed.delete(pod.metadata.uid);
      for (const key of this.keysOf(pod)) {
        const list = listFor(key);
        list.splice(list.indexOf(pod), 1);
      }
    }
    for (const [uid, pod] of changes.arrived) {
      this.filed.set(uid, pod);
      for (const key of this.keysOf(pod)) listFor(key).push(pod);
    }
    for (const [key, list] of touched) {
      if (list.length === 0) this.lists.delete(key);
      else this.lists.set(key, this.order && list.length > 1 ? list.sort(this.order) : list);
    }
  }

  get(key: string): readonly PodObject[] | undefined {
    return this.lists.get(key);
  }

  /** Every key's list, in a map of the caller's own. */
  copy(): Map<string, PodObject[]> {
    return new Map(this.lists);
  }

  private changes(pods: ReadonlyMap<string, PodObject>): PodChanges | undefined {
    if (this.filed.size === 0) return undefined;
    if (!this.history) return podChanges(pods, this.filed);
    const uids = this.history.since(this.mark);
    if (!uids || uids.length > pods.size / 4) return undefined;
    const changes: PodChanges = { arrived: [], left: [] };
    const seen = new Set<string>();
    for (const uid of uids) {
      if (seen.has(uid)) continue;
      seen.add(uid);
      const was = this.filed.get(uid);
      const pod = pods.get(uid);
      if (was === pod) continue;
      if (was) changes.left.push(was);
      if (pod) changes.arrived.push([uid, pod]);
    }
    return changes;
  }

  private rebuild(pods: ReadonlyMap<string, PodObject>): void {
    this.filed.clear();
    this.lists = new Map();
    for (const [uid, pod] of pods) {
      this.filed.set(uid, pod);
      for (const key of this.keysOf(pod)) {
        const list = this.lists.get(key);
        if (list) list.push(pod);
        else this.lists.set(key, [pod]);
      }
    }
    if (this.order) for (const list of this.lists.values()) if (list.length > 1) list.sort(this.order);
  }
}
