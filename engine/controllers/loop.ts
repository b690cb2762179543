/**
 * The controller loop's work queue (as controller-runtime's): keys, not
 * events — adding a key that is already queued does nothing; a key is never
 * processed twice at once (added while processing, it runs once more
 * afterwards); a failure is retried with exponential backoff per key; a
 * TerminalError is recorded (onTerminal, for the status) and not retried
 * until the key is added again.
 */
import { TerminalError } from '../../common/errors.ts';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface WorkQueueOptions<K> {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How many keys run at once (each key still one at a time). */
  workers?: number;
  timers?: Timers;
  onTerminal?: (key: K, error: TerminalError) => void;
  onError?: (key: K, error: unknown, retryInMs: number) => void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class WorkQueue<K extends string> {
  private readonly queue: K[] = [];
  private readonly queued = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly dirty = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly waiting = new Map<K, unknown>();
  private readonly terminal = new Map<K, string>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private scheduled = false;
  private readonly base: number;
  private readonly max: number;
  private readonly workers: number;
  private readonly timers: Timers;

  constructor(
    private readonly handler: (key: K) => Promise<void> | void,
    private readonly options: WorkQueueOptions<K> = {},
  ) {
    this.base = options.baseDelayMs ?? 5;
    this.max = options.maxDelayMs ?? 60_000;
    this.workers = options.workers ?? 1;
    this.timers = options.timers ?? realTimers;
  }

  /** Queue a key now (cancels a pending backoff: the caller knows something changed). */
  add(key: K): void {
    if (this.stopped) return;
    this.terminal.delete(key);
    const timer = this.waiting.get(key);
    if (timer !== undefined) {
      this.timers.clear(timer);
      this.waiting.delete(key);
    }
    this.enqueue(key);
  }

  /** Queue a key after a delay (a requeueAfter). */
  addAfter(key: K, ms: number): void {
    if (this.stopped || this.waiting.has(key)) return;
    this.waiting.set(key, this.timers.set(() => {
      this.waiting.delete(key);
      this.enqueue(key);
    }, ms));
  }

  /** Consecutive failures of a key (0 after a success). */
  failuresOf(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The terminal error recorded for a key, if its last run ended in one. */
  terminalErrorOf(key: K): string | undefined {
    return this.terminal.get(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or running (backoffs may still be pending). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.processing.size === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.waiting.values()) this.timers.clear(timer);
    this.waiting.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private enqueue(key: K): void {
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    // Start on the next microtask, so keys added together coalesce.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  private pump(): void {
    while (!this.stopped && this.processing.size < this.workers) {
      const index = this.queue.findIndex((k) => !this.processing.has(k));
      if (index < 0) break;
      const [key] = this.queue.splice(index, 1);
      this.queued.delete(key);
      this.processing.add(key);
      void this.process(key);
    }
    if (this.queue.length === 0 && this.processing.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async process(key: K): Promise<void> {
    try {
      await this.handler(key);
      this.failures.delete(key);
    } catch (err) {
      if (err instanceof TerminalError) {
        this.failures.delete(key);
        this.terminal.set(key, err.message);
        this.options.onTerminal?.(key, err);
      } else {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        const delay = Math.min(this.base * 2 ** (n - 1), this.max);
        this.options.onError?.(key, err, delay);
        if (!this.dirty.has(key)) this.addAfter(key, delay);
      }
    } finally {
      this.processing.delete(key);
      if (this.dirty.delete(key)) this.enqueue(key);
      this.pump();
    }
  }
}
