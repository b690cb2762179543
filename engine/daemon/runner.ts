/**
 * A bounded-frequency runner (after kube-proxy's): bursts of triggers
 * coalesce into one run, runs are at least `minIntervalMs` apart, a failed
 * run is retried with exponential back-off, and a run may ask to be run again
 * after a delay (a requeue). Never two runs at once; never a busy loop.
 */
export interface RunnerOptions {
  minIntervalMs: number;
  maxBackoffMs: number;
  /** Called with the error of a failed run (the runner retries it). */
  onError?: (err: unknown, attempt: number, retryInMs: number) => void;
  now?: () => number;
}

/** A run returns how long until it wants to run again (undefined: only on a trigger). */
export type RunFn = () => Promise<number | undefined>;

export class BoundedFrequencyRunner {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running = false;
  private pendingWhileRunning = false;
  private lastRunAt = -Infinity;
  private failures = 0;
  private stopped = false;
  /** Triggers received since the last run started (the queue depth). */
  pending = 0;

  constructor(private readonly run: RunFn, private readonly options: RunnerOptions) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Asks for a run as soon as the minimum interval allows. */
  trigger(): void {
    if (this.stopped) return;
    this.pending += 1;
    if (this.running) {
      this.pendingWhileRunning = true;
      return;
    }
    this.schedule(Math.max(0, this.lastRunAt + this.options.minIntervalMs - this.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Keeps the earliest of the scheduled runs. */
  private schedule(delayMs: number): void {
    const at = this.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => void this.fire(), delayMs);
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    this.running = true;
    this.pendingWhileRunning = false;
    this.pending = 0;
    this.lastRunAt = this.now();
    let next: number | undefined;
    try {
      next = await this.run();
      this.failures = 0;
    } catch (err) {
      this.failures += 1;
      const backoff = Math.min(this.options.maxBackoffMs, this.options.minIntervalMs * 2 ** this.failures);
      this.options.onError?.(err, this.failures, backoff);
      next = backoff;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.pendingWhileRunning) this.schedule(this.options.minIntervalMs);
    if (next !== undefined) this.schedule(Math.max(next, this.options.minIntervalMs));
  }
}
