/**
 * `cox rollout status deployment/NAME [-n NS] [--repo DIR] [--branch B]
 *                     [--status-branch S] [--timeout SECONDS] [--watch=false]`
 *
 * Follows a Deployment's rollout on the status branch (git only, like kubectl
 * follows the API server) and prints a line whenever its progress changes,
 * until the status reflects the desired branch's tip and every replica is
 * updated and available. Exit 0 when rolled out; 1 when the deadline was
 * exceeded, the newest desired commit was refused, or --timeout passed.
 */
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError, UsageError } from '../../common/errors.ts';
import type { DeploymentStatus, ObservedState } from '../model.ts';
import { parse } from './args.ts';
import { git } from './gitcli.ts';
import { filesDefining } from './rollback.ts';
import type { CommandIO } from './main.ts';

export interface RolloutInput {
  name: string;
  namespace: string;
  /** The desired branch's tip and the Deployment's replicas there (undefined: not in Git). */
  tip: string;
  replicas: number | undefined;
  observed: ObservedState & { refusedCommit?: string };
}

export type RolloutProgress = { done: false; line: string } | { done: true; ok: boolean; line: string };

/** kubectl's rollout-status sentences, from the status branch's view. */
export function rolloutProgress(input: RolloutInput): RolloutProgress {
  const { name, namespace, tip, observed } = input;
  const quoted = `deployment "${name}"`;
  if (observed.refusedCommit && observed.errors.length > 0 && observed.appliedCommit !== tip) {
    const first = observed.errors[0];
    return { done: true, ok: false, line: `desired commit ${observed.refusedCommit.slice(0, 12)} was refused: ${first.file}:${first.line}:${first.column}: ${first.message}` };
  }
  if (input.replicas === undefined) return { done: true, ok: false, line: `${quoted} not found in namespace ${namespace} at ${tip.slice(0, 12)}` };
  if (observed.appliedCommit !== tip) return { done: false, line: `Waiting for the engine to apply ${tip.slice(0, 12)} (status reflects ${observed.appliedCommit?.slice(0, 12) ?? 'nothing yet'})...` };
  const workload = observed.workloads.get(`Deployment/${namespace}/${name}`);
  if (!workload) return { done: false, line: `Waiting for ${quoted} to appear in status...` };
  const status = workload.status as DeploymentStatus;
  const deadline = status.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  if (deadline) return { done: true, ok: false, line: `error: ${quoted} exceeded its progress deadline` };
  const want = input.replicas;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < want) return { done: false, line: `Waiting for ${quoted} rollout to finish: ${updated} out of ${want} new replicas have been updated...` };
  if (total > updated) return { done: false, line: `Waiting for ${quoted} rollout to finish: ${total - updated} old replicas are pending termination...` };
  if (available < updated) return { done: false, line: `Waiting for ${quoted} rollout to finish: ${available} of ${updated} updated replicas are available...` };
  return { done: true, ok: true, line: `${quoted} successfully rolled out` };
}

export async function desiredReplicas(repo: string, rev: string, namespace: string, name: string): Promise<number | undefined> {
  for (const file of await filesDefining(repo, rev, namespace, name)) {
    const text = (await git(repo, ['show', `${rev}:${file}`])).stdout;
    for (const doc of parseAllDocuments(text)) {
      const obj = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: { replicas?: number } } | null;
      if (obj?.kind === 'Deployment' && obj.metadata?.name === name && (obj.metadata.namespace ?? 'default') === namespace) return obj.spec?.replicas ?? 1;
    }
  }
  return undefined;
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n', default: 'default' },
    repo: { type: 'string', default: '.' },
    branch: { type: 'string', default: 'main' },
    'status-branch': { type: 'string', default: 'coxswain/status' },
    timeout: { type: 'string', default: '0' },
    watch: { type: 'string', short: 'w', default: 'true' },
  });
  const [verb, target] = positionals;
  if (verb !== 'status' || !target || positionals.length > 2) throw new UsageError('usage: cox rollout status deployment/NAME [-n NS]');
  const match = /^(?:deployment|deployments|deploy)(?:\.apps)?\/(.+)$/.exec(target);
  if (!match) throw new UsageError(`${target}: expected deployment/NAME`);
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw new UsageError(`--timeout ${values.timeout}: expected seconds (0: no limit)`);
  const watch = values.watch !== 'false';
  const repo = path.resolve(io.cwd, values.repo!);
  const { readStatusSnapshot } = await import('../status/read.ts');
  const deadline = timeoutSeconds > 0 ? Date.now() + timeoutSeconds * 1000 : Infinity;
  let lastLine = '';
  for (;;) {
    const tip = (await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${values.branch}^{commit}`], { allowFailure: true })).stdout.trim();
    if (!tip) throw new ConfigError(`${repo}: no branch ${values.branch}`);
    const replicas = await desiredReplicas(repo, tip, values.namespace!, match[1]);
    const { observed } = await readStatusSnapshot(repo, values['status-branch']);
    const progress = rolloutProgress({ name: match[1], namespace: values.namespace!, tip, replicas, observed });
    if (progress.line !== lastLine) io.stdout(`${progress.line}\n`);
    lastLine = progress.line;
    if (progress.done) return progress.ok ? 0 : 1;
    if (!watch) return 0;
    if (Date.now() > deadline) {
      io.stderr(`cox rollout: timed out after ${timeoutSeconds}s\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
