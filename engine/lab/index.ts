/**
 * The lab: several Linux hosts on one machine, each a network namespace with
 * its own mount, UTS and PID namespaces, sshd and Podman (see LAB.md). The
 * integration tests, the demo and `cox lab` all bring hosts up through here.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { execInHost, isAlive, isHostInit, PODMAN_SOCKET, spawnInHost, startHost, stopHost } from './host.ts';
import { createBridge, createHostNetwork, installGuard, listNetns, netnsPids, removeNetwork } from './network.ts';
import { writeContainersConfig } from './podman.ts';
import type { RunResult } from './process.ts';
import { run, waitFor } from './process.ts';
import { ensureKey, knownHostsLine, prepareSshd } from './sshd.ts';
import { labFile, labNames, MAX_NODES, nodeNames, readLab, writeLab, type Lab, type LabNode } from './state.ts';
import { ensureImages } from './images.ts';
import { ensurePrograms } from './deps.ts';
import { writeClusterRepo } from './cluster-repo.ts';

export type { Lab, LabNode } from './state.ts';
export { readLab } from './state.ts';

export interface LabUpOptions {
  name: string;
  index: number;
  nodes: number;
  dir: string;
  onProgress?: (line: string) => void;
  /** Build (or reuse from the cache) the lab images and list them on every host; default true. */
  images?: boolean;
  /** The examples repository whose apps/ become images and whose files seed the cluster repository; default the project's examples-repo. */
  examplesDir?: string;
  /** Write the cluster repository at dir/cluster-repo; default true. */
  clusterRepo?: boolean;
}

const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

export async function labUp(options: LabUpOptions): Promise<Lab> {
  const { name, index, nodes: count } = options;
  const progress = options.onProgress ?? (() => {});
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) throw new ConfigError(`--nodes ${count}: expected 1 to ${MAX_NODES}`);
  if (process.getuid?.() !== 0) throw new ConfigError('the lab needs root (network namespaces, mounts, nftables)');
  const names = labNames(index);
  const dir = resolve(options.dir);
  const started = Date.now();
  const examplesDir = options.examplesDir ?? join(PROJECT_ROOT, 'examples-repo');

  await ensurePrograms(progress);
  progress(`lab ${name}: cleaning stale state of index ${index} in ${dir}`);
  await cleanLab(index, dir, progress);

  mkdirSync(join(dir, 'hosts'), { recursive: true });
  const imageStores = options.images === false ? [] : await ensureImages({ appsDir: join(examplesDir, 'apps'), onProgress: progress });

  const clientKeyPath = join(dir, 'id_ed25519');
  const clientKey = await ensureKey(clientKeyPath, `cox-lab-${name}`);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `${clientKey}\n`);

  progress(`lab ${name}: bridge ${names.bridge} ${names.bridgeAddress}/24, guard routes and nft table ${names.nftTable}`);
  await createBridge(index);
  await installGuard(index);

  const lab: Lab = {
    name,
    index,
    dir,
    bridge: names.bridge,
    bridgeAddress: names.bridgeAddress,
    nodes: [],
    clientKeyPath,
    knownHostsPath: join(dir, 'known_hosts'),
    imageStores,
    nftTable: names.nftTable,
    createdAt: new Date().toISOString(),
  };
  writeLab(lab);

  const numbers = Array.from({ length: count }, (_, k) => k + 1);
  lab.nodes = await Promise.all(numbers.map((i) => startNode(lab, i, authorizedKeys, progress)));
  writeLab(lab);
  writeFileSync(lab.knownHostsPath, lab.nodes.flatMap((n) => n.hostKeys.map((key) => `${knownHostsLine(n.address, key)}\n`)).join(''));

  await Promise.all(lab.nodes.map((node) => waitForNode(node, progress)));
  if (options.clusterRepo !== false) {
    lab.clusterRepo = join(dir, 'cluster-repo');
    const commit = await writeClusterRepo(lab, lab.clusterRepo, examplesDir);
    writeLab(lab);
    progress(`lab ${name}: cluster repository ${lab.clusterRepo} at ${commit.slice(0, 12)}`);
  }
  progress(`lab ${name}: ${count} host(s) up in ${Date.now() - started} ms`);
  return lab;
}

async function startNode(lab: Lab, i: number, authorizedKeys: string, progress: (line: string) => void): Promise<LabNode> {
  const n = nodeNames(lab.index, i);
  const hostDir = join(lab.dir, 'hosts', n.name);
  const storageDir = join(hostDir, 'containers');
  const containersConfigDir = join(hostDir, 'etc-containers');
  mkdirSync(storageDir, { recursive: true });
  writeContainersConfig(containersConfigDir, n.podCIDR, lab.imageStores);
  const { files, hostKey } = await prepareSshd(hostDir, n.name, n.address, authorizedKeys);
  await createHostNetwork(lab.index, i);
  const pid = await startHost(n.netns, { name: n.name, hostDir, storageDir, containersConfigDir, sshdConfig: files.config, sshdLog: files.log });
  progress(`${n.name}: ${n.address} pod subnet ${n.podCIDR}, PID 1 is ${pid}`);
  return { name: n.name, address: n.address, podCIDR: n.podCIDR, pid, hostKeys: [hostKey], netns: n.netns, veth: n.veth, hostDir };
}

async function waitForNode(node: LabNode, progress: (line: string) => void): Promise<void> {
  await waitFor(`${node.name}: sshd on ${node.address}:22 (see ${join(node.hostDir, 'sshd.log')})`, () => sshBanner(node.address), 15000);
  await waitFor(`${node.name}: podman API on ${PODMAN_SOCKET} (see ${join(node.hostDir, 'podman.log')})`, () => podmanPing(node.pid), 30000);
  progress(`${node.name}: sshd and podman answer`);
}

/** Resolves true when something on address:22 greets like an SSH server. */
export function sshBanner(address: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22, timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (chunk) => done(chunk.toString().startsWith('SSH-')));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** GET /_ping on the host's podman socket, reached through /proc/PID/root from the root namespace. */
export function podmanPing(pid: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: `/proc/${pid}/root${PODMAN_SOCKET}`, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/**
 * Tears the lab down and leaves nothing: containers stopped, each host's PID 1
 * terminated (the kernel kills what runs inside), veths, netns, bridge, nft
 * table, guard routes (when no other lab uses them), the hosts' state.
 * Takes the lab or its directory; a directory without a lab is a no-op.
 */
export async function labDown(dirOrLab: string | Lab, onProgress: (line: string) => void = () => {}): Promise<void> {
  const lab = typeof dirOrLab === 'string' ? readLab(dirOrLab) : dirOrLab;
  if (!lab) return;
  const started = Date.now();
  await Promise.all(
    lab.nodes.filter((n) => isHostInit(n.pid)).map(async (node) => {
      await execInHost(node.pid, ['podman', 'stop', '--all', '--time', '2'], { timeoutMs: 20000 });
      onProgress(`${node.name}: containers stopped`);
    }),
  );
  await cleanLab(lab.index, lab.dir);
  onProgress(`lab ${lab.name}: down in ${Date.now() - started} ms`);
}

/**
 * Removes whatever a lab with this index left behind, whether a clean run or a
 * crash did: hosts recorded in dir/lab.json, any process still inside one of
 * the index's namespaces, then the network and the hosts' state.
 */
export async function cleanLab(index: number, dir?: string, progress: (line: string) => void = () => {}): Promise<void> {
  const names = labNames(index);
  const recorded = dir ? safeReadLab(dir) : undefined;
  if (recorded && recorded.index !== index) {
    progress(`${dir} held a lab with index ${recorded.index}: removing it first`);
    await cleanLab(recorded.index, undefined, progress);
  }
  const pids = new Set<number>();
  for (const node of recorded?.index === index ? recorded.nodes : []) if (isHostInit(node.pid)) pids.add(node.pid);
  for (const netns of (await listNetns()).filter((n) => n.startsWith(names.netnsPrefix))) {
    for (const pid of await netnsPids(netns)) if (isHostInit(pid)) pids.add(pid);
  }
  for (const pid of pids) {
    const owner = hostDirOf(pid);
    if (owner && dir && !owner.startsWith(`${resolve(dir)}/`)) progress(`stopping host PID ${pid} of another lab with index ${index} (${owner})`);
  }
  await Promise.all([...pids].map((pid) => stopHost(pid)));
  for (const netns of (await listNetns()).filter((n) => n.startsWith(names.netnsPrefix))) {
    for (const pid of await netnsPids(netns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const pid of await netnsPids(netns)) await waitFor(`PID ${pid} in netns ${netns} to exit`, () => !isAlive(pid), 5000);
  }
  await removeNetwork(index);
  if (dir) {
    rmSync(join(resolve(dir), 'hosts'), { recursive: true, force: true });
    rmSync(labFile(dir), { force: true });
  }
}

/** The host directory of a lab host's PID 1, from the init.sh on its command line. */
function hostDirOf(pid: number): string | undefined {
  try {
    const init = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((a) => a.endsWith('/init.sh'));
    return init ? dirname(init) : undefined;
  } catch {
    return undefined;
  }
}

function safeReadLab(dir: string): Lab | undefined {
  try {
    return readLab(dir);
  } catch {
    return undefined;
  }
}

function nodeOf(lab: Lab, nodeName: string): LabNode {
  const node = lab.nodes.find((n) => n.name === nodeName);
  if (!node) throw new ConfigError(`lab ${lab.name} has no node ${nodeName} (nodes: ${lab.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

/** Runs argv inside a lab host's namespaces (as if on that host) and collects its output. */
export function labExec(lab: Lab, nodeName: string, argv: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return execInHost(nodeOf(lab, nodeName).pid, argv, options);
}

/** Starts argv inside a lab host's namespaces; the caller owns the child (kill it by its pid). */
export function labSpawn(lab: Lab, nodeName: string, argv: string[]): ChildProcess {
  return spawnInHost(nodeOf(lab, nodeName).pid, argv);
}

/** argv for the `ssh` binary reaching a lab host with the lab's key, verifying the pinned host key (no trust on first use). */
export function labSshArgv(lab: Lab, nodeName: string, command: string[] = []): string[] {
  const node = nodeOf(lab, nodeName);
  return [
    'ssh', '-i', lab.clientKeyPath,
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${lab.knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR',
    `root@${node.address}`, ...command,
  ];
}

/** The host's Docker-API socket as reachable from the root namespace (through /proc/PID/root). */
export function labPodmanSocket(lab: Lab, nodeName: string): string {
  return `/proc/${nodeOf(lab, nodeName).pid}/root${PODMAN_SOCKET}`;
}

/** Whether each node's PID 1 is alive, an SSH login with the lab key and the pinned host key works, and podman answers. */
export async function labHealth(lab: Lab): Promise<{ name: string; running: boolean; ssh: boolean; podman: boolean }[]> {
  return Promise.all(
    lab.nodes.map(async (node) => {
      const running = isHostInit(node.pid);
      return { name: node.name, running, ssh: running && (await run(labSshArgv(lab, node.name, ['true']), { timeoutMs: 10000 })).code === 0, podman: running && (await podmanPing(node.pid)) };
    }),
  );
}
