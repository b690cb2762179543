/**
 * Remembers what was last applied and tells a sync what changed since:
 * ServicePorts added, updated (fingerprint differs) or removed. No-op updates
 * are dropped. The applied view moves forward only after a sync succeeded
 * (`commit`), so a failed sync is retried whole from the same starting point.
 */
import { fingerprint, type ServicePort } from './service-ports.ts';

export interface ServicePortChanges {
  added: ServicePort[];
  /** Pairs of what was applied and what is wanted now. */
  updated: Array<{ before: ServicePort; after: ServicePort }>;
  removed: ServicePort[];
  unchanged: number;
}

export function diffServicePorts(applied: ReadonlyMap<string, ServicePort>, wanted: ServicePort[]): ServicePortChanges {
  const changes: ServicePortChanges = { added: [], updated: [], removed: [], unchanged: 0 };
  const wantedKeys = new Set<string>();
  for (const after of wanted) {
    wantedKeys.add(after.key);
    const before = applied.get(after.key);
    if (!before) changes.added.push(after);
    else if (fingerprint(before) !== fingerprint(after)) changes.updated.push({ before, after });
    else changes.unchanged++;
  }
  for (const [key, before] of applied) if (!wantedKeys.has(key)) changes.removed.push(before);
  return changes;
}

export function isEmpty(changes: ServicePortChanges): boolean {
  return changes.added.length === 0 && changes.updated.length === 0 && changes.removed.length === 0;
}

export class ServiceChangeTracker {
  #applied = new Map<string, ServicePort>();

  get applied(): ReadonlyMap<string, ServicePort> {
    return this.#applied;
  }

  changes(wanted: ServicePort[]): ServicePortChanges {
    return diffServicePorts(this.#applied, wanted);
  }

  /** Records `wanted` as applied (call after the kernel accepted it). */
  commit(wanted: ServicePort[]): void {
    this.#applied = new Map(wanted.map((p) => [p.key, p]));
  }

  /** Forgets everything: the next sync is a full resync. */
  reset(): void {
    this.#applied = new Map();
  }
}
