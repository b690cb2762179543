import assert from 'node:assert/strict';
import { DEFAULT_THRESHOLDS, allocatableOf, capacityOf, cpuRate, parseMeminfo, parseProcStat, pressureConditions, type NodeUsage } from './index.ts';

const base: NodeUsage = { cpuCores: 2, memoryTotalBytes: 2 * 2 ** 30, memoryAvailableBytes: 2 ** 30, cpuUsageSeconds: 0, diskTotalBytes: 100e9, diskAvailableBytes: 50e9, pidMax: 32768, pidsInUse: 300 };

describe('node resource usage', () => {
  it('reads MemTotal and MemAvailable from /proc/meminfo', () => {
    assert.deepEqual(parseMeminfo('MemTotal:        2048000 kB\nMemFree: 1 kB\nMemAvailable:    1024000 kB\n'), { total: 2048000 * 1024, available: 1024000 * 1024 });
  });
  it('counts non-idle CPU seconds from /proc/stat', () => {
    assert.equal(parseProcStat('cpu  100 0 50 1000 20 0 0 0 0 0\ncpu0 ...'), 1.5);
  });
  const cases: { name: string; usage: Partial<NodeUsage>; pressure: string[] }[] = [
    { name: 'a healthy node reports no pressure', usage: {}, pressure: [] },
    { name: 'less than 100Mi available memory is MemoryPressure', usage: { memoryAvailableBytes: 50 * 2 ** 20 }, pressure: ['MemoryPressure'] },
    { name: 'less than 10% free disk is DiskPressure', usage: { diskAvailableBytes: 5e9 }, pressure: ['DiskPressure'] },
    { name: 'fewer than 5% free PIDs is PIDPressure', usage: { pidsInUse: 32000 }, pressure: ['PIDPressure'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const conds = pressureConditions({ ...base, ...c.usage }, DEFAULT_THRESHOLDS);
      assert.deepEqual(conds.filter((x) => x.status === 'True').map((x) => x.type), c.pressure);
      assert.equal(conds.length, 3);
    });
  }
  it('reports capacity in Kubernetes units and allocatable less the eviction threshold', () => {
    assert.equal(capacityOf(base).memory, '2097152Ki');
    assert.equal(allocatableOf(base, DEFAULT_THRESHOLDS).memory, `${2097152 - 102400}Ki`);
    assert.equal(capacityOf(base).cpu, '2');
  });
  it('computes a CPU rate in nano-cores from two cumulative samples', () => {
    assert.equal(cpuRate({ cpuTotalNs: 0, readAtMs: 0 }, { cpuTotalNs: 500_000_000, readAtMs: 1000 }), 500_000_000);
    assert.equal(cpuRate(undefined, { cpuTotalNs: 5, readAtMs: 1 }), 0);
  });
});
