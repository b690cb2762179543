import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';

describe('reconnect back-off', () => {
  const policy = { initialMs: 100, maxMs: 1_000, factor: 2 };
  const cases: Array<[string, number, number, number]> = [
    ['the first retry waits between half and all of the initial delay', 1, 50, 100],
    ['the third retry waits between half and all of four times the initial delay', 3, 200, 400],
    ['a late retry never waits longer than the maximum', 30, 500, 1_000],
  ];
  for (const [name, attempt, low, high] of cases) {
    it(name, () => {
      assert.equal(backoffDelay(attempt, policy, () => 0), low);
      assert.equal(backoffDelay(attempt, policy, () => 0.999999), high);
    });
  }

  it('every delay is at least half its ceiling and never above the maximum, whatever the random draw', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
      const delay = backoffDelay(attempt, DEFAULT_BACKOFF, () => r);
      const ceiling = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.initialMs * 2 ** (attempt - 1));
      return delay >= Math.floor(ceiling / 2) && delay <= DEFAULT_BACKOFF.maxMs;
    }));
  });
});
