import assert from 'node:assert/strict';
import { BoundedFrequencyRunner } from './runner.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bounded-frequency runner', () => {
  let runner: BoundedFrequencyRunner | undefined;
  afterEach(() => runner?.stop());

  it('coalesces a burst of triggers into one run', async () => {
    let runs = 0;
    runner = new BoundedFrequencyRunner(async () => void runs++, { minIntervalMs: 20, maxBackoffMs: 100 });
    for (let i = 0; i < 50; i++) runner.trigger();
    await sleep(60);
    assert.equal(runs, 1);
  });

  it('keeps runs at least the minimum interval apart', async () => {
    const starts: number[] = [];
    runner = new BoundedFrequencyRunner(async () => void starts.push(Date.now()), { minIntervalMs: 40, maxBackoffMs: 100 });
    runner.trigger();
    await sleep(5);
    runner.trigger();
    await sleep(100);
    assert.equal(starts.length, 2);
    assert.ok(starts[1] - starts[0] >= 38, `runs ${starts[1] - starts[0]} ms apart`);
  });

  it('runs again once after triggers that arrive during a run', async () => {
    let runs = 0;
    runner = new BoundedFrequencyRunner(async () => {
      runs++;
      if (runs === 1) {
        runner!.trigger();
        runner!.trigger();
      }
      await sleep(10);
      return undefined;
    }, { minIntervalMs: 5, maxBackoffMs: 100 });
    runner.trigger();
    await sleep(80);
    assert.equal(runs, 2);
  });

  it('retries a failed run with growing back-off and reports each failure', async () => {
    const attempts: number[] = [];
    let runs = 0;
    runner = new BoundedFrequencyRunner(async () => {
      runs++;
      if (runs < 3) throw new Error('agent busy');
      return undefined;
    }, { minIntervalMs: 5, maxBackoffMs: 1000, onError: (_err, attempt, retryInMs) => attempts.push(retryInMs) });
    runner.trigger();
    await sleep(100);
    assert.equal(runs, 3);
    assert.deepEqual(attempts, [10, 20]);
  });

  it('runs again after the delay a run asks for, without any trigger', async () => {
    let runs = 0;
    runner = new BoundedFrequencyRunner(async () => (++runs < 3 ? 15 : undefined), { minIntervalMs: 5, maxBackoffMs: 100 });
    runner.trigger();
    await sleep(100);
    assert.equal(runs, 3);
  });

  it('does nothing after stop', async () => {
    let runs = 0;
    runner = new BoundedFrequencyRunner(async () => void runs++, { minIntervalMs: 5, maxBackoffMs: 100 });
    runner.stop();
    runner.trigger();
    await sleep(30);
    assert.equal(runs, 0);
  });
});
