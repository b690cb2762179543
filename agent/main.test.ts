import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../common/errors.ts';
import { FakeExecutor } from './proxy/exec.ts';
import { main, parseServeArgs, proxierFactory } from './main.ts';

describe('cox-agent serve flags', function () {
  it('defaults the IPVS scheduler to rr and gives the proxier the state dir', function () {
    assert.deepEqual(parseServeArgs(['--state-dir', '/tmp/cox-state']).proxy, { scheduler: 'rr', stateDir: '/tmp/cox-state' });
  });

  for (const name of ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh']) {
    it(`takes --ipvs-scheduler ${name}`, function () {
      assert.equal(parseServeArgs(['--ipvs-scheduler', name]).proxy.scheduler, name);
    });
  }

  it('refuses an IPVS scheduler ipvsadm does not know, naming the flag and the known ones', function () {
    assert.throws(() => parseServeArgs(['--ipvs-scheduler', 'fifo']), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^--ipvs-scheduler: unknown IPVS scheduler "fifo" \(one of rr wrr lc wlc lblc lblcr dh sh sed nq mh\)\nusage: cox-agent serve /);
      return true;
    });
    assert.throws(() => parseServeArgs(['--ipvs-scheduler']), UsageError);
  });

  it('exits 2 on a bad scheduler before starting anything', async function () {
    const write = process.stderr.write;
    let err = '';
    process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
    try {
      assert.equal(await main(['serve', '--ipvs-scheduler', 'bogus']), 2);
    } finally {
      process.stderr.write = write;
    }
    assert.match(err, /--ipvs-scheduler: unknown IPVS scheduler "bogus"/);
  });

  it('shows the flag in the usage text', async function () {
    const write = process.stdout.write;
    let out = '';
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    try {
      assert.equal(await main(['--help']), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.match(out, /\[--ipvs-scheduler NAME\]/);
    assert.match(out, /--ipvs-scheduler NAME +IPVS scheduler/);
  });

  it('makes ipvs proxiers whose restore input uses the scheduler of the flag', async function () {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'cox-main-'));
    try {
      const fake = new FakeExecutor();
      const proxier = await proxierFactory(parseServeArgs(['--ipvs-scheduler', 'sh', '--state-dir', stateDir]).proxy, { exec: fake })('ipvs');
      const table = await proxier.sync([{ namespace: 'default', name: 'web', type: 'ClusterIP', clusterIP: '100.127.0.10', ports: [{ protocol: 'TCP', port: 80, endpoints: [{ ip: '100.64.1.2', port: 8080 }] }] }], { nodeAddress: '198.18.3.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16' });
      assert.equal(fake.calls.find((c) => c.argv.join(' ') === 'ipvsadm --restore')!.input, '-A -t 100.127.0.10:80 -s sh\n-a -t 100.127.0.10:80 -r 100.64.1.2:8080 -m -w 1\n');
      assert.equal(table.services[0].scheduler, 'sh');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
