/**
 * `cox plan`: desired state at a commit against observed state from the
 * status branch, through the same reconcile() the engine runs, printed as
 * what would happen — pods to create (with the node and the scores that
 * chose it), pods to delete, rollout steps (simulated to completion assuming
 * new pods become ready), services and VIPs, endpoint changes, validation
 * errors. No host is contacted. The clock is the later of the two commits'
 * times, so identical inputs give byte-identical output.
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import { GitError } from '../../common/errors.ts';
import { DesiredLoader } from '../source/loader.ts';
import { readStatusSnapshot } from '../status/read.ts';
import { resolveGitDir } from '../status/git.ts';
import { formatDiagnostic } from '../manifests/index.ts';
import { reconcile, type Action, type DesiredObjects } from '../controllers/index.ts';
import type { ObservedState } from '../model.ts';
import { DEFAULT_ALLOCATABLE } from '../scheduler/resources.ts';
import { simulateRollout } from './simulate.ts';


export { renderPlan } from './render.ts';

export interface PlannedPod {
  namespace: string;
  name: string;
  owner?: string;
  node?: string;
  scores?: Record<string, number>;
  reason: string;
  /** Set when no node fits: kube-scheduler's sentence. */
  unschedulable?: string;
}

export interface PlannedService {
  service: string;
  type: string;
  clusterIP: string;
  ports: string[];
  change: 'new' | 'changed' | 'unchanged' | 'removed';
}

export interface Plan {
  desiredCommit: string;
  statusCommit?: string;
  /** The clock the plan used (ISO). */
  now: string;
  valid: boolean;
  diagnostics: string[];
  /** Nodes without observed status: assumed Ready with default allocatable. */
  assumedNodes: string[];
  assumedAllocatable: string;
  create: PlannedPod[];
  bind: PlannedPod[];
  delete: Array<{ namespace: string; name: string; node?: string; owner?: string; reason: string }>;
  unschedulable: Array<{ namespace: string; name: string; message: string }>;
  rollouts: Array<{ workload: string; steps: string[]; complete: boolean }>;
  services: PlannedService[];
  endpoints: Array<{ service: string; port: string; added: string[]; removed: string[] }>;
  nodeConditions: Array<{ node: string; condition: string; status: string; reason: string }>;
  configErrors: Array<{ workload: string; message: string }>;
}

export interface PlanOptions {
  repoDir: string;
  /** A commit oid (full or abbreviated), a branch or a ref; default HEAD. */
  rev?: string;
  statusBranch?: string;
}

export async function resolveRev(gitdir: string, rev: string): Promise<string> {
  if (/^[0-9a-f]{40}$/.test(rev)) return rev;
  for (const ref of [rev, `refs/heads/${rev}`, `refs/tags/${rev}`, `refs/remotes/${rev}`]) {
    try {
      return await git.resolveRef({ fs, gitdir, ref });
    } catch {
      /* try the next spelling */
    }
  }
  if (/^[0-9a-f]{4,39}$/.test(rev)) {
    try {
      return await git.expandOid({ fs, gitdir, oid: rev });
    } catch {
      /* fall through */
    }
  }
  throw new GitError(`--rev ${rev}: no such commit, branch or ref in ${gitdir}`, { rev });
}

export async function makePlan(options: PlanOptions): Promise<Plan> {
  const gitdir = resolveGitDir(options.repoDir);
  const commit = await resolveRev(gitdir, options.rev ?? 'HEAD');
  const loaded = await new DesiredLoader(gitdir).load(commit);
  const status = await readStatusSnapshot(options.repoDir, options.statusBranch);
  const { commit: desired } = await git.readCommit({ fs, gitdir, oid: commit });
  const desiredTime = desired.committer.timestamp * 1000;
  const now = new Date(Math.max(desiredTime, status.time?.getTime() ?? 0));
  const diagnostics = loaded.diagnostics.map(formatDiagnostic);
  return planFrom({ desired: loaded.store as unknown as DesiredObjects, commit, observed: status.observed, now, valid: loaded.valid, diagnostics, statusCommit: status.commit });
}

/** The plan of one reconcile pass (and the simulated rest of any rollout), from inputs already loaded. */
export function planFrom(input: { desired: DesiredObjects; commit: string; observed: ObservedState; now: Date; valid: boolean; diagnostics: string[]; statusCommit?: string }): Plan {
  const gitNodes = input.desired.list('Node').map((n) => n.metadata.name).sort();
  const plan: Plan = {
    desiredCommit: input.commit,
    ...(input.statusCommit ? { statusCommit: input.statusCommit } : {}),
    now: input.now.toISOString(),
    valid: input.valid,
    diagnostics: input.diagnostics,
    assumedNodes: gitNodes.filter((n) => !input.observed.nodes.get(n)?.status.allocatable),
    assumedAllocatable: `cpu ${DEFAULT_ALLOCATABLE.milliCPU / 1000}, memory ${DEFAULT_ALLOCATABLE.memory / 1024 ** 3}Gi, pods ${DEFAULT_ALLOCATABLE.pods}`,
    create: [],
    bind: [],
    delete: [],
    unschedulable: [],
    rollouts: [],
    services: [],
    endpoints: [],
    nodeConditions: [],
    configErrors: [],
  };
  if (!input.valid) return plan;

  const result = reconcile({ desired: input.desired, commit: input.commit, observed: input.observed, now: input.now });
  const unschedulable = new Map<string, string>();
  for (const a of result.actions) if (a.type === 'unschedulable') unschedulable.set(a.uid, a.message);
  for (const a of result.actions) collect(plan, a, unschedulable);

  for (const [key, s] of result.observed.services) {
    const before = input.observed.services.get(key);
    const ports = s.spec.ports.map((p) => `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol} -> ${p.targetPort}${p.nodePort ? ` (nodePort ${p.nodePort})` : ''}`);
    const change = !before ? 'new' : JSON.stringify(before.spec) === JSON.stringify(s.spec) ? 'unchanged' : 'changed';
    plan.services.push({ service: key, type: s.spec.clusterIP === 'None' ? 'Headless' : s.spec.type, clusterIP: s.spec.clusterIP, ports, change });
  }
  for (const [key, s] of input.observed.services) {
    if (!result.observed.services.has(key)) plan.services.push({ service: key, type: s.spec.type, clusterIP: s.spec.clusterIP, ports: [], change: 'removed' });
  }

  const rolling = new Set(result.actions.filter((a) => a.type === 'rolloutStep').map((a) => (a as { workload: string }).workload));
  if (rolling.size > 0) plan.rollouts = simulateRollout(input.desired, input.commit, result, input.now, rolling);

  const order = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) => compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`);
  plan.create.sort(order);
  plan.bind.sort(order);
  plan.delete.sort(order);
  plan.unschedulable.sort(order);
  plan.services.sort((a, b) => compare(a.service, b.service));
  plan.endpoints.sort((a, b) => compare(`${a.service}:${a.port}`, `${b.service}:${b.port}`));
  for (const e of plan.endpoints) {
    e.added.sort();
    e.removed.sort();
  }
  return plan;
}

function collect(plan: Plan, a: Action, unschedulable: Map<string, string>): void {
  switch (a.type) {
    case 'createPod':
      plan.create.push({ namespace: a.namespace, name: a.name, ...(a.owner ? { owner: a.owner } : {}), ...(a.node ? { node: a.node } : {}), ...(a.scores ? { scores: a.scores } : {}), reason: a.reason, ...(unschedulable.has(a.uid) ? { unschedulable: unschedulable.get(a.uid) } : {}) });
      break;
    case 'bindPod':
      plan.bind.push({ namespace: a.namespace, name: a.name, node: a.node, scores: a.scores, reason: a.reason });
      break;
    case 'unschedulable':
      plan.unschedulable.push({ namespace: a.namespace, name: a.name, message: a.message });
      break;
    case 'deletePod':
      plan.delete.push({ namespace: a.namespace, name: a.name, ...(a.node ? { node: a.node } : {}), ...(a.owner ? { owner: a.owner } : {}), reason: a.reason });
      break;
    case 'endpoints':
      plan.endpoints.push({ service: a.service, port: a.port, added: [...a.added], removed: [...a.removed] });
      break;
    case 'nodeCondition':
      plan.nodeConditions.push({ node: a.node, condition: a.condition, status: a.status, reason: a.reason });
      break;
    case 'configError':
      plan.configErrors.push({ workload: a.workload, message: a.message });
      break;
    default:
      break;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}


