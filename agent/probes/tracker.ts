/**
 * One probe of one container as a small state machine, with every timing
 * field Kubernetes has: initialDelaySeconds, periodSeconds, timeoutSeconds,
 * successThreshold, failureThreshold. Pure: the caller runs the check.
 */
import type { Probe } from '../../schemas/types.generated.ts';

export type ProbeKind = 'startup' | 'liveness' | 'readiness';
export type ProbeResult = 'unknown' | 'success' | 'failure';

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function timingOf(probe: Probe): ProbeTiming {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

export class ProbeTracker {
  result: ProbeResult;
  message = '';
  private successes = 0;
  private failures = 0;
  private lastRunMs: number | undefined;
  inFlight = false;

  constructor(readonly kind: ProbeKind, readonly timing: ProbeTiming, readonly containerStartedMs: number) {
    // kubelet: readiness starts as failure, liveness as success, startup as unknown.
    this.result = kind === 'readiness' ? 'failure' : kind === 'liveness' ? 'success' : 'unknown';
  }

  /** Whether a check should start at `nowMs`. */
  due(nowMs: number): boolean {
    if (this.inFlight) return false;
    if (nowMs < this.containerStartedMs + this.timing.initialDelayMs) return false;
    return this.lastRunMs === undefined || nowMs - this.lastRunMs >= this.timing.periodMs;
  }

  /** Milliseconds until due (for timers). */
  nextDueInMs(nowMs: number): number {
    const first = this.containerStartedMs + this.timing.initialDelayMs;
    const at = this.lastRunMs === undefined ? first : Math.max(first, this.lastRunMs + this.timing.periodMs);
    return Math.max(0, at - nowMs);
  }

  started(nowMs: number): void {
    this.lastRunMs = nowMs;
    this.inFlight = true;
  }

  /** Records a check's outcome; returns true when the result changed. */
  record(ok: boolean, message: string): boolean {
    this.inFlight = false;
    const before = this.result;
    if (ok) {
      this.successes += 1;
      this.failures = 0;
      // Startup and liveness need one success (Kubernetes requires successThreshold 1 for them).
      if (this.successes >= (this.kind === 'readiness' ? this.timing.successThreshold : 1)) this.result = 'success';
    } else {
      this.failures += 1;
      this.successes = 0;
      if (this.failures >= this.timing.failureThreshold) { this.result = 'failure'; this.message = message; }
    }
    if (ok) this.message = '';
    return before !== this.result;
  }
}
