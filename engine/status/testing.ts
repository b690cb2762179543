/**
 * Small builders and real-git helpers for the status, source, plan and action
 * tests (real repositories made with the git CLI in a temporary directory, and
 * the cluster files they hold).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeObject, ObservedState, PodObject, ServiceObject, WorkloadObject } from '../model.ts';
import { emptyObserved } from '../model.ts';

export function gitCli(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' },
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  }).trim();
}

/** A fresh repository with one commit on main (a README), in a temp dir removed by the returned cleanup. */
export function tempRepo(options: { bare?: boolean } = {}): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-status-'));
  gitCli(dir, ['init', '-q', '-b', 'main', ...(options.bare ? ['--bare'] : [])]);
  if (!options.bare) {
    gitCli(dir, ['commit', '-q', '--allow-empty', '-m', 'initial']);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function fsckStrict(dir: string): string {
  return gitCli(dir, ['fsck', '--strict', '--no-progress']);
}

export function pod(name: string, options: { phase?: PodObject['status']['phase']; node?: string; ready?: boolean; namespace?: string; restarts?: number; ip?: string } = {}): PodObject {
  const phase = options.phase ?? 'Pending';
  const ready = options.ready ?? phase === 'Running';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: options.namespace ?? 'default', uid: `uid-${options.namespace ?? 'default'}-${name}`, labels: { app: name.split('-')[0] } },
    spec: { nodeName: options.node, containers: [{ name: 'app', image: 'coxswain/busybox:1' }] } as PodObject['spec'],
    status: {
      phase,
      podIP: options.ip,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        {
          name: 'app',
          ready,
          restartCount: options.restarts ?? 0,
          image: 'coxswain/busybox:1',
          state: phase === 'Running' ? { running: { startedAt: '2026-11-22T00:00:00Z' } } : { waiting: { reason: 'ContainerCreating' } },
        },
      ],
    },
  };
}

export function node(name: string, ready = true, heartbeat = '2026-11-22T00:00:00Z'): NodeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: { podCIDR: '100.64.1.0/24' },
    status: {
      addresses: [{ type: 'InternalIP', address: '198.18.9.11' }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'AgentReady' : 'AgentUnreachable' }],
      lastHeartbeatTime: heartbeat,
    },
  };
}

export function service(name: string, endpoints: Array<{ ip: string; podName: string }>, namespace = 'default'): ServiceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], selector: { app: name } },
    status: { endpoints: [{ port: 'http', addresses: endpoints.map((e) => ({ ip: e.ip, port: 8080, podName: e.podName })) }] },
  };
}

export function deployment(name: string, ready: number, replicas: number, namespace = 'default'): WorkloadObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    status: { replicas, updatedReplicas: replicas, readyReplicas: ready, availableReplicas: ready, conditions: [] },
  };
}

export function observedOf(objects: { pods?: PodObject[]; nodes?: NodeObject[]; services?: ServiceObject[]; workloads?: WorkloadObject[]; errors?: ObservedState['errors'] }): ObservedState {
  const o = emptyObserved();
  for (const p of objects.pods ?? []) o.pods.set(p.metadata.uid, p);
  for (const n of objects.nodes ?? []) o.nodes.set(n.metadata.name, n);
  for (const s of objects.services ?? []) o.services.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  for (const w of objects.workloads ?? []) o.workloads.set(`${w.kind}/${w.metadata.namespace}/${w.metadata.name}`, w);
  o.errors = objects.errors ?? [];
  return o;
}

/** A pinned host key for test Nodes (a well-formed ed25519 key no host has). */
export const TEST_HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2E1x4Y9f3m0J0Bz6J8xk1o2mHb1nq4w1U7l0Tt9v1c';

/** Writes a file of a working tree, creating its directories. */
export function write(dir: string, file: string, text: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), text);
}

/** cluster.yaml and Nodes h1-h3 at <nodeSubnet>.11-13 in a working tree (a cluster repository's skeleton). */
export function writeClusterFiles(dir: string, options: { nodeSubnet: string; previews?: string }): void {
  write(dir, 'cluster.yaml', `apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata: {name: test}\nspec:\n  podCIDR: 100.64.0.0/16\n  serviceCIDR: 100.127.0.0/24\n${options.previews ? `  previews: ${options.previews}\n` : ''}`);
  for (const n of ['h1', 'h2', 'h3']) write(dir, `nodes/${n}.yaml`, `apiVersion: v1\nkind: Node\nmetadata: {name: ${n}}\nspec:\n  ssh: {address: ${options.nodeSubnet}.1${n[1]}, hostKeys: ["${TEST_HOST_KEY}"]}\n`);
}

/** A Deployment `web` (100m CPU, 64Mi per pod) and its Service, as one manifest file. */
export function webManifests(image: string, options: { replicas: number; namespace?: string; serviceType?: 'NodePort' }): string {
  const metadata = `{name: web${options.namespace ? `, namespace: ${options.namespace}` : ''}}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata: ${metadata}
spec:
  replicas: ${options.replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ${image}
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: ${metadata}
spec:
${options.serviceType ? `  type: ${options.serviceType}\n` : ''}  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`;
}
