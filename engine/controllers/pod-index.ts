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

/** Pods by the keys `keysOf` gives each; lists in `order` when given, else in the order pods were filed. */
export class PodIndex {
  private readonly filed = new Map<string, PodObject>();
  private readonly lists = new Map<string, PodObject[]>();

  constructor(
    private readonly keysOf: (pod: PodObject) => readonly string[],
    private readonly order?: (a: PodObject, b: PodObject) => number,
  ) {}

  /** Brings the index to exactly `pods`. */
  update(pods: ReadonlyMap<string, PodObject>): void {
    const changes = this.filed.size > 0 ? podChanges(pods, this.filed) : undefined;
    if (!changes) {
      this.filed.clear();
      this.lists.clear();
      for (const [uid, pod] of pods) {
        this.filed.set(uid, pod);
        for (const key of this.keysOf(pod)) {
          const list = this.lists.get(key);
          if (list) list.push(pod);
          else this.lists.set(key, [pod]);
        }
      }
      if (this.order) for (const list of this.lists.values()) if (list.length > 1) list.sort(this.order);
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
}
