/**
 * The cluster repository `cox lab up` writes: examples-repo's files (when the
 * project has them) plus a Node manifest per lab host pinning its real host
 * key, committed on main in a real git repository.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { must } from './process.ts';
import type { Lab, LabNode } from './state.ts';

export function nodeManifest(node: LabNode): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name } },
    spec: {
      podCIDR: node.podCIDR,
      ssh: { address: node.address, port: 22, user: 'root', hostKeys: node.hostKeys },
    },
  };
}

export function defaultClusterManifest(lab: Lab): Record<string, unknown> {
  return {
    apiVersion: 'coxswain.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: `lab-${lab.name}` },
    spec: { podCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24', proxyMode: 'auto' },
  };
}

const GIT_IDENTITY = ['-c', 'user.name=Coxswain Lab', '-c', 'user.email=lab@coxswain.invalid', '-c', 'commit.gpgsign=false'];

/**
 * (Re)creates repoDir: host keys change at every `lab up`, so an old
 * repository would pin keys that no longer exist. Returns the commit.
 */
export async function writeClusterRepo(lab: Lab, repoDir: string, examplesDir?: string): Promise<string> {
  rmSync(repoDir, { recursive: true, force: true });
  mkdirSync(repoDir, { recursive: true });
  await must(['git', 'init', '-q', '-b', 'main', repoDir]);
  const fromExamples = Boolean(examplesDir && existsSync(examplesDir) && readdirSync(examplesDir).length > 0);
  if (fromExamples) {
    cpSync(examplesDir!, repoDir, { recursive: true, filter: (src) => !src.endsWith('/.git') && !src.includes('/node_modules') });
    rmSync(join(repoDir, 'nodes'), { recursive: true, force: true });
  }
  if (!existsSync(join(repoDir, 'cluster.yaml'))) writeFileSync(join(repoDir, 'cluster.yaml'), stringify(defaultClusterManifest(lab), { lineWidth: 0 }));
  mkdirSync(join(repoDir, 'nodes'), { recursive: true });
  for (const node of lab.nodes) writeFileSync(join(repoDir, 'nodes', `${node.name}.yaml`), stringify(nodeManifest(node), { lineWidth: 0 }));
  await must(['git', '-C', repoDir, 'add', '-A']);
  const what = fromExamples ? 'examples-repo and ' : '';
  await must(['git', ...GIT_IDENTITY, '-C', repoDir, 'commit', '-q', '-m', `Lab ${lab.name}: ${what}${lab.nodes.length} node(s) with pinned host keys`]);
  return (await must(['git', '-C', repoDir, 'rev-parse', 'HEAD'])).trim();
}
