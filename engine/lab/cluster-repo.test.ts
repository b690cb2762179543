import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { writeClusterRepo } from './cluster-repo.ts';
import type { Lab, LabNode } from './state.ts';

function node(i: number): LabNode {
  return { name: `h${i}`, address: `198.18.5.${10 + i}`, podCIDR: `100.64.${i}.0/24`, pid: 1000 + i, hostKeys: [`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'A'.repeat(40)}${i}`], netns: `cox5-h${i}`, veth: `cox5h${i}`, hostDir: `/lab/hosts/h${i}` };
}

const lab: Lab = { name: 'unit', index: 5, dir: '/lab', bridge: 'coxbr5', bridgeAddress: '198.18.5.1', nodes: [node(1), node(2)], clientKeyPath: '/lab/id_ed25519', knownHostsPath: '/lab/known_hosts', imageStores: [], nftTable: 'coxlab5', createdAt: '2026-01-01T00:00:00Z' };
const git = (repo: string, ...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

describe('the lab cluster repository', () => {
  it('pins each node’s host key, address, port, user and pod subnet in nodes/hN.yaml, one commit on main', async () => {
    const repo = join(mkdtempSync(join(tmpdir(), 'cox-repo-')), 'cluster-repo');
    const commit = await writeClusterRepo(lab, repo);
    assert.equal(git(repo, 'rev-parse', 'HEAD'), commit);
    assert.equal(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main');
    assert.equal(git(repo, 'rev-list', '--count', 'HEAD'), '1');
    assert.deepEqual(git(repo, 'ls-files').split('\n'), ['cluster.yaml', 'nodes/h1.yaml', 'nodes/h2.yaml']);
    assert.deepEqual(parse(readFileSync(join(repo, 'nodes/h2.yaml'), 'utf8')), {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'h2', labels: { 'kubernetes.io/hostname': 'h2' } },
      spec: { podCIDR: '100.64.2.0/24', ssh: { address: '198.18.5.12', port: 22, user: 'root', hostKeys: [node(2).hostKeys[0]] } },
    });
  });

  it('takes the examples’ files and cluster.yaml but replaces their nodes, and starts afresh over an old repository', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cox-repo-'));
    const examples = join(base, 'examples');
    mkdirSync(join(examples, 'nodes'), { recursive: true });
    mkdirSync(join(examples, 'apps/web'), { recursive: true });
    writeFileSync(join(examples, 'cluster.yaml'), 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: examples\n');
    writeFileSync(join(examples, 'nodes/h7.yaml'), 'kind: Node\n');
    writeFileSync(join(examples, 'apps/web/server.js'), '// web\n');
    const repo = join(base, 'cluster-repo');
    await writeClusterRepo(lab, repo, examples);
    const again = await writeClusterRepo(lab, repo, examples);
    assert.equal(git(repo, 'rev-list', '--count', 'HEAD'), '1');
    assert.equal(git(repo, 'rev-parse', 'HEAD'), again);
    assert.deepEqual(git(repo, 'ls-files').split('\n'), ['apps/web/server.js', 'cluster.yaml', 'nodes/h1.yaml', 'nodes/h2.yaml']);
    assert.match(readFileSync(join(repo, 'cluster.yaml'), 'utf8'), /name: examples/);
    assert.match(git(repo, 'log', '-1', '--format=%s'), /^Lab unit: examples-repo and 2 node\(s\) with pinned host keys$/);
  });
});
