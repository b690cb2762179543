/**
 * What the end-to-end tests and the e2e benchmark share: a cluster repository
 * to commit to, the engine as a real child process (so it can be SIGKILLed),
 * and probes that look at the lab itself (the VIP from inside a host, the
 * containers Podman runs) rather than at what the engine claims.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labExec, type Lab } from '../../engine/lab/index.ts';
import { readStatusSnapshot } from '../../engine/status/read.ts';
import { git } from '../../engine/cli/gitcli.ts';
import type { ObservedState, PodObject } from '../../engine/model.ts';
import { LABELS } from '../../common/agent-api.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const identity = { GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@coxswain.invalid', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@coxswain.invalid' };

/** The user's side: files in a real git repository, committed on main. */
export class ClusterRepo {
  constructor(readonly dir: string) {}

  write(file: string, text: string): void {
    mkdirSync(path.dirname(path.join(this.dir, file)), { recursive: true });
    writeFileSync(path.join(this.dir, file), text);
  }

  read(file: string): string {
    return readFileSync(path.join(this.dir, file), 'utf8');
  }

  remove(file: string): void {
    rmSync(path.join(this.dir, file), { force: true });
  }

  async commit(message: string): Promise<string> {
    await git(this.dir, ['add', '-A']);
    await git(this.dir, ['commit', '-q', '--allow-empty', '-m', message], { env: identity });
    return (await git(this.dir, ['rev-parse', 'HEAD'])).stdout.trim();
  }

  /** A commit of the working tree that main does not point at yet (what a pull request proposes). */
  async propose(message: string): Promise<string> {
    await git(this.dir, ['add', '-A']);
    const tree = (await git(this.dir, ['write-tree'])).stdout.trim();
    return (await git(this.dir, ['commit-tree', tree, '-p', 'HEAD', '-m', message], { env: identity })).stdout.trim();
  }

  /** Moves main to a proposed commit (the merge). */
  async advance(commit: string): Promise<void> {
    const head = (await git(this.dir, ['rev-parse', 'HEAD'])).stdout.trim();
    await git(this.dir, ['update-ref', 'refs/heads/main', commit, head]);
  }

  async status(): Promise<ObservedState & { refusedCommit?: string }> {
    return (await readStatusSnapshot(this.dir)).observed;
  }
}

export interface EngineProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything the engine logged so far. */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `cox engine` as a child process of the test, logging JSON lines to logFile. */
export function startEngine(options: { repo: string; sshKey: string; logFile: string; extraArgs?: string[] }): EngineProcess {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/cox.mjs'), 'engine', '--repo', options.repo, '--ssh-key', options.sshKey, '--log-level', 'debug', ...(options.extraArgs ?? [])], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    child,
    exited,
    log: () => readFileSync(options.logFile, 'utf8'),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export { waitFor } from '../../engine/lab/process.ts';

/** One HTTP GET through a VIP from inside a lab host; the body, or undefined when it failed. */
export async function getThroughVip(lab: Lab, node: string, vip: string, port = 80): Promise<string | undefined> {
  const result = await labExec(lab, node, ['timeout', '2', 'wget', '-qO-', `http://${vip}:${port}/`], { timeoutMs: 5000 });
  return result.code === 0 ? result.stdout : undefined;
}

export interface RunningContainer {
  id: string;
  pod: string;
  namespace: string;
  role: string;
}

/** The containers the agent created on a host, as Podman itself lists them. */
export async function managedContainers(lab: Lab, node: string): Promise<RunningContainer[]> {
  const result = await labExec(lab, node, ['podman', 'ps', '--filter', `label=${LABELS.managed}`, '--format', 'json'], { timeoutMs: 15_000 });
  if (result.code !== 0) throw new Error(`podman ps on ${node}: ${result.stderr.trim()}`);
  const list = JSON.parse(result.stdout || '[]') as Array<{ Id: string; Labels?: Record<string, string> }>;
  return list.map((c) => ({ id: c.Id, pod: c.Labels?.[LABELS.podName] ?? '', namespace: c.Labels?.[LABELS.podNamespace] ?? '', role: c.Labels?.[LABELS.containerRole] ?? '' }));
}

export function livePods(observed: ObservedState, prefix: string, namespace = 'default'): PodObject[] {
  return [...observed.pods.values()].filter((p) => p.metadata.namespace === namespace && p.metadata.name.startsWith(prefix) && !p.metadata.deletionTimestamp);
}

export function isReady(pod: PodObject): boolean {
  return pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** A Deployment serving "<pod name> <version>" on 8080 with busybox httpd, and its Service. */
export function webApp(options: { name: string; replicas: number; version: string; vip?: string; namespace?: string }): string {
  const ns = options.namespace ?? 'default';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${options.name}
  namespace: ${ns}
spec:
  replicas: ${options.replicas}
  selector:
    matchLabels: {app: ${options.name}}
  template:
    metadata:
      labels: {app: ${options.name}}
    spec:
      containers:
        - name: web
          image: coxswain/busybox:1
          command: [sh, -c, 'echo "serving $POD_NAME $VERSION"; mkdir -p /www && echo "$POD_NAME $VERSION" > /www/index.html && exec httpd -f -p 8080 -h /www']
          env:
            - {name: VERSION, value: "${options.version}"}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          ports:
            - {containerPort: 8080}
          readinessProbe:
            httpGet: {path: /, port: 8080}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: ${options.name}
  namespace: ${ns}
spec:
  selector: {app: ${options.name}}
${options.vip ? `  clusterIP: ${options.vip}\n` : ''}  ports:
    - {port: 80, targetPort: 8080}
`;
}
