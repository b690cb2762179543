/**
 * Helpers for the agent's integration tests and benchmark: run cox-agent
 * inside a lab host, talk to its socket through /proc/<host pid>/root, build
 * desired states, and wait for observed conditions with deadlines.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSpawn, type Lab, type LabNode } from '../../engine/lab/index.ts';
import { AgentClient } from '../../agent/client.ts';
import type { DesiredPod, NodeDesiredState, ObservedPod } from '../../common/agent-api.ts';
import { waitFor } from '../../engine/lab/process.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningAgent {
  node: LabNode;
  child: ChildProcess;
  client: AgentClient;
  output: () => string;
  stop: () => Promise<void>;
}

export function nodeOf(lab: Lab, name: string): LabNode {
  const n = lab.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`lab has no node ${name}`);
  return n;
}

export function socketOf(node: LabNode): string {
  return `/proc/${node.pid}/root/run/coxswain/agent.sock`;
}

export { waitFor };

/** Starts the agent in `nodeName` (sources through tsx, or a bundle file) and waits until it answers. */
export async function startAgent(lab: Lab, nodeName: string, args: string[] = [], program = path.join(REPO, 'bin/cox-agent.mjs')): Promise<RunningAgent> {
  const node = nodeOf(lab, nodeName);
  const child = labSpawn(lab, nodeName, ['node', program, 'serve', ...args]);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = AgentClient.local(socketOf(node), nodeName);
  try {
    await waitFor(`cox-agent on ${nodeName} to answer on ${socketOf(node)}`, async () => {
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}: ${out}`);
      return client.version();
    }, 60_000, 200);
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return {
    node, child, client,
    output: () => out,
    stop: async () => {
      await client.close().catch(() => undefined);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      }
    },
  };
}

export function desiredFor(lab: Lab, nodeName: string, generation: number, pods: DesiredPod[]): NodeDesiredState {
  const node = nodeOf(lab, nodeName);
  return {
    generation, node: nodeName, nodeAddress: node.address, podCIDR: node.podCIDR, clusterCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24',
    proxyMode: 'nftables', pods, services: [],
    routes: lab.nodes.filter((n) => n.name !== nodeName).map((n) => ({ cidr: n.podCIDR, via: n.address })),
  };
}

export function busyboxPod(name: string, uid: string, container: Partial<DesiredPod['spec']['containers'][number]>, spec: Partial<DesiredPod['spec']> = {}): DesiredPod {
  return { uid, name, namespace: 'default', spec: { containers: [{ name: 'main', image: 'coxswain/busybox:1', ...container }], ...spec } };
}

export async function observedPod(client: AgentClient, name: string): Promise<ObservedPod | undefined> {
  return (await client.observed()).state.pods.find((p) => p.name === name);
}

/** Waits until pod `name` satisfies `ok`, returning it. */
export function waitForPod(client: AgentClient, name: string, what: string, ok: (p: ObservedPod) => boolean, timeoutMs = 60_000): Promise<ObservedPod> {
  return waitFor(`pod ${name} ${what}`, async () => {
    const p = await observedPod(client, name);
    return p && ok(p) ? p : undefined;
  }, timeoutMs, 100);
}

export const isReady = (p: ObservedPod) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
