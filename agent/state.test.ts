import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DesiredStateStore } from './state.ts';
import { StaleGeneration } from '../common/errors.ts';
import type { NodeDesiredState } from '../common/agent-api.ts';

function desired(generation: number): NodeDesiredState {
  return { generation, node: 'h1', nodeAddress: '198.18.2.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24', proxyMode: 'nftables', pods: [], services: [], routes: [] };
}

describe('DesiredStateStore', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), 'cox-state-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('persists an accepted state so a new store loads it back', async () => {
    await new DesiredStateStore(dir).accept(desired(3));
    const again = new DesiredStateStore(dir);
    assert.equal((await again.load())?.generation, 3);
    assert.equal(again.generation, 3);
  });

  it('writes the file with mode 0600 and leaves no temp file behind', async () => {
    await new DesiredStateStore(dir).accept(desired(1));
    assert.equal((await stat(path.join(dir, 'desired.json'))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['desired.json']);
  });

  const cases: { name: string; accepted: number; offered: number; refused: boolean }[] = [
    { name: 'a newer generation is accepted', accepted: 4, offered: 5, refused: false },
    { name: 'the same generation is accepted again, so an engine may retry its PUT', accepted: 4, offered: 4, refused: false },
    { name: 'an older generation is refused with StaleGeneration', accepted: 4, offered: 3, refused: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const store = new DesiredStateStore(dir);
      await store.accept(desired(c.accepted));
      const attempt = store.accept(desired(c.offered));
      if (c.refused) {
        await assert.rejects(attempt, (err: unknown) => err instanceof StaleGeneration && err.data.accepted === c.accepted && err.data.offered === c.offered);
        assert.equal(JSON.parse(await readFile(path.join(dir, 'desired.json'), 'utf8')).generation, c.accepted);
      } else {
        await attempt;
        assert.equal(store.generation, c.offered);
      }
    });
  }

  it('refuses the older of two concurrent PUTs that arrive out of order', async () => {
    const store = new DesiredStateStore(dir);
    const results = await Promise.allSettled([store.accept(desired(7)), store.accept(desired(6))]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.equal(store.generation, 7);
  });

  it('reports nothing accepted when the file is missing, and names the file when it is corrupt', async () => {
    assert.equal(await new DesiredStateStore(dir).load(), undefined);
    await writeFile(path.join(dir, 'desired.json'), '{nope');
    await assert.rejects(new DesiredStateStore(dir).load(), /desired\.json: not valid JSON/);
  });
});
