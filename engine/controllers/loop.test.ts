import assert from 'node:assert/strict';
import { TerminalError } from '../../common/errors.ts';
import { WorkQueue, type Timers } from './loop.ts';

/** Timers that fire only when the test says so. */
function manualTimers(): Timers & { pending: Array<{ fn: () => void; ms: number }>; fire(): void } {
  const pending: Array<{ fn: () => void; ms: number }> = [];
  return {
    pending,
    set(fn, ms) {
      const entry = { fn, ms };
      pending.push(entry);
      return entry;
    },
    clear(handle) {
      const i = pending.indexOf(handle as { fn: () => void; ms: number });
      if (i >= 0) pending.splice(i, 1);
    },
    fire() {
      for (const entry of pending.splice(0)) entry.fn();
    },
  };
}

describe('controller work queue', () => {
  it('adding a key that is already queued runs it once', async () => {
    const runs: string[] = [];
    const q = new WorkQueue<string>((k) => void runs.push(k), { timers: manualTimers() });
    q.add('a');
    q.add('a');
    q.add('b');
    await q.idle();
    assert.deepEqual(runs.sort(), ['a', 'b']);
  });

  it('never processes one key twice at once, and re-runs it when added meanwhile', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release!: () => void;
    const q = new WorkQueue<string>(async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await new Promise<void>((r) => (release = r));
      running--;
    }, { workers: 4, timers: manualTimers() });
    q.add('a');
    await new Promise((r) => setImmediate(r));
    q.add('a');
    q.add('a');
    release();
    await q.idle();
    await q.idle();
    assert.equal(maxRunning, 1);
    assert.equal(runs, 2);
  });

  it('retries a failing key with exponential backoff and forgets failures after a success', async () => {
    const timers = manualTimers();
    let attempts = 0;
    const q = new WorkQueue<string>(() => {
      attempts++;
      if (attempts < 4) throw new Error('agent busy');
    }, { baseDelayMs: 10, maxDelayMs: 25, timers });
    q.add('a');
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await q.idle();
      delays.push(timers.pending[0].ms);
      timers.fire();
    }
    await q.idle();
    assert.deepEqual(delays, [10, 20, 25]);
    assert.equal(attempts, 4);
    assert.equal(q.failuresOf('a'), 0);
  });

  it('records a terminal error instead of retrying it', async () => {
    const timers = manualTimers();
    const recorded: string[] = [];
    const q = new WorkQueue<string>(() => {
      throw new TerminalError('Service/default/web', 'service CIDR 100.127.0.0/30 is full');
    }, { timers, onTerminal: (key, err) => recorded.push(`${key}: ${err.message}`) });
    q.add('svc');
    await q.idle();
    assert.equal(timers.pending.length, 0);
    assert.deepEqual(recorded, ['svc: Service/default/web: service CIDR 100.127.0.0/30 is full']);
    assert.equal(q.terminalErrorOf('svc'), 'Service/default/web: service CIDR 100.127.0.0/30 is full');
  });

  it('addAfter queues the key once its delay has passed', async () => {
    const timers = manualTimers();
    const runs: string[] = [];
    const q = new WorkQueue<string>((k) => void runs.push(k), { timers });
    q.addAfter('a', 5000);
    await q.idle();
    assert.deepEqual(runs, []);
    timers.fire();
    await q.idle();
    assert.deepEqual(runs, ['a']);
  });
});
