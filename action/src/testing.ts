/**
 * Helpers for the action's tests: a cluster repository made with real git
 * (a working clone and a bare origin), a local HTTP server answering the few
 * GitHub REST endpoints the action calls, and a run of the bundled action
 * exactly as GitHub's runner starts it (node dist/index.js, INPUT_* and
 * GITHUB_* variables, payload, output and summary files).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gitCli, webManifests, write, writeClusterFiles } from '../../engine/status/testing.ts';
import { ACTION_BUNDLE_PATH } from './bundle.ts';

export { write };

/** The demo namespace's `web` Deployment and its NodePort Service. */
export function webYaml(image: string, replicas = 2): string {
  return webManifests(image, { replicas, namespace: 'demo', serviceType: 'NodePort' });
}

/** A workspace with a clone (`repo`) of a bare origin (`origin.git`) holding a 3-node cluster repository on main. */
export function clusterRepository(): { root: string; repo: string; origin: string; head: () => string; commit: (message: string) => string; cleanup: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cox-action-'));
  const repo = path.join(root, 'repo');
  const origin = path.join(root, 'origin.git');
  mkdirSync(repo);
  gitCli(root, ['init', '-q', '--bare', '-b', 'main', origin]);
  gitCli(repo, ['init', '-q', '-b', 'main']);
  writeClusterFiles(repo, { nodeSubnet: '198.18.7', previews: '{limits: {maxReplicas: 1}}' });
  write(repo, 'demo/namespace.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n');
  write(repo, 'demo/web.yaml', webYaml('coxswain/busybox:1'));
  gitCli(repo, ['add', '-A']);
  gitCli(repo, ['commit', '-q', '-m', 'web v1']);
  gitCli(repo, ['remote', 'add', 'origin', origin]);
  gitCli(repo, ['push', '-q', 'origin', 'main']);
  return {
    root,
    repo,
    origin,
    head: () => gitCli(repo, ['rev-parse', 'HEAD']),
    commit: (message) => {
      gitCli(repo, ['add', '-A']);
      gitCli(repo, ['commit', '-q', '-m', message]);
      return gitCli(repo, ['rev-parse', 'HEAD']);
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization?: string;
  body?: { body?: string };
}

/** GitHub's issue-comment endpoints for one repository, in memory. `refuse` answers writes with that status. */
export async function fakeGitHub(options: { refuseWrites?: number } = {}): Promise<{ url: string; requests: RecordedRequest[]; comments: Map<number, string>; close: () => Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const comments = new Map<number, string>();
  let nextId = 1000;
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = data ? JSON.parse(data) : undefined;
      requests.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(body ? { body } : {}) });
      const reply = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      const list = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments(\?.*)?$/.exec(req.url!);
      const one = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(req.url!);
      if ((req.method === 'POST' || req.method === 'PATCH') && options.refuseWrites) return reply(options.refuseWrites, { message: 'Resource not accessible by integration' });
      if (list && req.method === 'GET') {
        const page = Number(new URLSearchParams(list[4] ?? '').get('page') ?? '1');
        const all = [...comments].map(([id, text]) => ({ id, body: text }));
        return reply(200, page === 1 ? [{ id: 1, body: 'LGTM' }, ...all] : []);
      }
      if (list && req.method === 'POST') {
        const id = nextId++;
        comments.set(id, body.body);
        return reply(201, { id, body: body.body });
      }
      if (one && req.method === 'PATCH' && comments.has(Number(one[3]))) {
        comments.set(Number(one[3]), body.body);
        return reply(200, { id: Number(one[3]), body: body.body });
      }
      return reply(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, comments, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export function pullRequestEvent(number: number, headSha: string, options: { fork?: string; action?: string } = {}): unknown {
  return {
    action: options.action ?? 'synchronize',
    number,
    pull_request: {
      number,
      head: { sha: headSha, ref: 'feature', repo: { full_name: options.fork ?? 'acme/cluster' } },
      base: { ref: 'main', repo: { full_name: 'acme/cluster' } },
    },
  };
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  summary: string;
  outputs: Record<string, string>;
}

/** Runs action/dist/index.js as the runner does, in `workspace`, with `inputs` as INPUT_* variables. */
export async function runAction(options: { workspace: string; inputs: Record<string, string>; event?: unknown; eventName?: string; apiUrl?: string; timeoutMs?: number }): Promise<ActionRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-runner-'));
  try {
    const files = { event: path.join(dir, 'event.json'), output: path.join(dir, 'output'), summary: path.join(dir, 'summary.md') };
    writeFileSync(files.event, JSON.stringify(options.event ?? {}));
    writeFileSync(files.output, '');
    writeFileSync(files.summary, '');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dir,
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: options.workspace,
      GITHUB_REPOSITORY: 'acme/cluster',
      GITHUB_EVENT_NAME: options.eventName ?? 'pull_request',
      GITHUB_EVENT_PATH: files.event,
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_API_URL: options.apiUrl ?? 'http://127.0.0.1:9',
      GIT_AUTHOR_NAME: 'Runner',
      GIT_AUTHOR_EMAIL: 'runner@example.com',
      GIT_COMMITTER_NAME: 'Runner',
      GIT_COMMITTER_EMAIL: 'runner@example.com',
    };
    for (const [name, value] of Object.entries(options.inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [ACTION_BUNDLE_PATH], { cwd: options.workspace, env, timeout: options.timeoutMs ?? 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
    const outputs: Record<string, string> = {};
    for (const line of readFileSync(files.output, 'utf8').split('\n')) {
      const m = /^([a-z-]+)=(.*)$/.exec(line);
      if (m) outputs[m[1]] = m[2];
    }
    return { code, stdout, stderr, summary: readFileSync(files.summary, 'utf8'), outputs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
