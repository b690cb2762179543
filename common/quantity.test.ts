import assert from 'node:assert/strict';
import { bytes, cpuMillis, formatBytes, formatCpu, isQuantity, parseQuantity } from './quantity.ts';

describe('Kubernetes quantities', () => {
  const cases: Array<[string, string | number, number]> = [
    ['a millicore suffix divides by a thousand', '500m', 0.5],
    ['a plain decimal is taken as is', '0.5', 0.5],
    ['a number (YAML `cpu: 2`) is taken as is', 2, 2],
    ['Mi is a power of two', '128Mi', 134217728],
    ['a fractional Gi is allowed', '1.5Gi', 1610612736],
    ['decimal suffixes are powers of ten', '2G', 2e9],
    ['k is a thousand', '1k', 1000],
    ['a decimal exponent is honoured', '1e3', 1000],
    ['a leading dot is a fraction', '.5', 0.5],
  ];
  for (const [name, input, expected] of cases) {
    it(`${name}: ${JSON.stringify(input)} is ${expected}`, () => assert.equal(parseQuantity(input), expected));
  }

  const invalid = ['', 'abc', '1.5 Gi', '12mb', '1Gib', '--1', 'NaN'];
  for (const input of invalid) {
    it(`refuses ${JSON.stringify(input)} with a message that names the value`, () => {
      assert.equal(isQuantity(input), false);
      assert.throws(() => parseQuantity(input), (err: Error) => err.message.includes(`"${input}"`));
    });
  }

  it('counts CPU in whole millicores, rounding up a fraction of one', () => {
    assert.deepEqual([cpuMillis('250m'), cpuMillis('1.5'), cpuMillis(2), cpuMillis('0.0001')], [250, 1500, 2000, 1]);
  });

  it('counts memory in whole bytes', () => {
    assert.deepEqual([bytes('128Mi'), bytes('1G'), bytes('1.5Gi'), bytes(100)], [134217728, 1e9, 1610612736, 100]);
  });

  it('prints quantities the way kubectl does', () => {
    assert.deepEqual([formatCpu(250), formatCpu(2000), formatBytes(134217728), formatBytes(1000)], ['250m', '2', '128Mi', '1000']);
  });
});
