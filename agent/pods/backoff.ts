/**
 * kubelet's crash-loop back-off: the first restart is immediate; after that a
 * container that exits waits `initial`, then twice that each time, up to
 * `max`; an entry untouched for 2 × max is forgotten (the container ran well).
 */
export interface BackOffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackOffOptions = { initialMs: 10_000, maxMs: 300_000 };

interface Entry {
  backoffMs: number;
  lastUpdateMs: number;
}

export class BackOff {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly options: BackOffOptions = DEFAULT_BACKOFF) {}

  /** The current delay for `key` (0 when none). */
  get(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a restart at `nowMs` and returns the delay the next one will wait. */
  next(key: string, nowMs: number): number {
    const e = this.entries.get(key);
    if (!e || nowMs - e.lastUpdateMs > 2 * this.options.maxMs) {
      this.entries.set(key, { backoffMs: this.options.initialMs, lastUpdateMs: nowMs });
      return this.options.initialMs;
    }
    e.backoffMs = Math.min(e.backoffMs * 2, this.options.maxMs);
    e.lastUpdateMs = nowMs;
    return e.backoffMs;
  }

  /** Milliseconds still to wait before restarting a container that finished at `eventMs` (0: restart now). */
  remaining(key: string, eventMs: number, nowMs: number): number {
    const e = this.entries.get(key);
    if (!e || nowMs - e.lastUpdateMs > 2 * this.options.maxMs) return 0;
    return Math.max(0, eventMs + e.backoffMs - nowMs);
  }

  forget(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}

/** "5m0s", "40s" — how kubelet prints a back-off. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}
