/**
 * `cox describe KIND NAME [-n NS] [--repo DIR] [--branch main] [--status-branch B] [--history N]`
 *
 * One object joined from Git alone: its desired spec (from the desired commit
 * the status says was applied, with file:line), its observed status, and its
 * recent history from status commits.
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, UsageError } from '../../common/errors.ts';
import type { NodeObject, PodObject, ServiceObject, WorkloadObject } from '../model.ts';
import { readStatusHistory, readStatusSnapshot, summarizeCommit, DEFAULT_STATUS_BRANCH } from '../status/index.ts';
import { fullRef, readRef, resolveGitDir } from '../status/git.ts';
import { nodeAddress, nodeStatus, podReady, podRestarts, podStatus, serviceEndpoints, servicePorts, workloadReady } from '../status/columns.ts';
import { objectsOfKind, parseTarget, statusPath, type StatusKind } from '../status/query.ts';
import { toRecords } from './history.ts';
import { parse } from './args.ts';
import { statusBranchIfAny } from './status-branch.ts';
import type { CommandIO } from './main.ts';

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n', default: 'default' },
    repo: { type: 'string', default: '.' },
    branch: { type: 'string', default: 'main' },
    'status-branch': { type: 'string', default: DEFAULT_STATUS_BRANCH },
    history: { type: 'string', default: '10' },
  });
  const { kind, name } = parseTarget(positionals);
  if (!name) throw new UsageError('usage: cox describe KIND NAME (e.g. cox describe pod web-5d8f-x2k)');
  const historyLimit = Number(values.history);
  if (!Number.isInteger(historyLimit) || historyLimit < 0) throw new UsageError(`--history ${values.history}: expected a whole number`);
  const namespace = values.namespace!;
  const repo = path.resolve(io.cwd, values.repo!);
  // Without a status branch (before the engine first ran) the desired spec is still worth showing.
  const statusRef = await statusBranchIfAny(repo, values['status-branch']!);
  const snapshot = await readStatusSnapshot(repo, statusRef);
  const observed = objectsOfKind(snapshot.observed, kind, kind === 'Node' ? undefined : namespace).find((o) => o.metadata.name === name);
  const desired = await desiredObject(repo, values.branch!, snapshot.observed.appliedCommit, kind, namespace, name);
  if (!observed && !desired) throw new ConfigError(`${kind.toLowerCase()} "${name}" not found${kind === 'Node' ? '' : ` in namespace ${namespace}`}, neither in the desired state nor in the status branch`, { kind, name, namespace });

  const out: string[] = [];
  const field = (label: string, value: string | number | undefined) => out.push(`${`${label}:`.padEnd(16)}${value ?? '<none>'}`);
  field('Name', name);
  if (kind !== 'Node') field('Namespace', namespace);
  field('Kind', kind);
  const labels = observed?.metadata.labels ?? desired?.object.metadata.labels;
  field('Labels', labels && Object.keys(labels).length ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') : '<none>');
  if (observed) describeObserved(kind, observed, field, out);
  else out.push('Status:         not observed yet (no status file)');

  out.push('', 'Desired:');
  if (desired) {
    const where = desired.source ? `${desired.source.file}:${desired.source.line}` : 'the desired state';
    out.push(`  from ${where} at ${desired.commit.slice(0, 12)}${desired.author ? ` (${desired.author})` : ''}`);
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = desired.object as Record<string, unknown> & { metadata: unknown };
    out.push(...indent(stringify(rest, { lineWidth: 0 }), '  '));
  } else if (observed?.metadata.ownerReferences?.length) {
    const owner = observed.metadata.ownerReferences[0];
    out.push(`  created by ${owner.kind}/${owner.name}: see cox describe ${owner.kind.toLowerCase()} ${owner.name}`);
  } else {
    out.push('  <not in the desired state>');
  }

  if (historyLimit > 0) {
    const file = statusPath(kind, namespace, name);
    const entries = await readStatusHistory(repo, { branch: statusRef, paths: [file], limit: historyLimit });
    const records = await toRecords(repo, entries, { kind, namespace, name });
    out.push('', 'History:');
    if (records.length === 0) out.push('  <none>');
    for (const r of records) {
      const cause = r.desiredCommit ? `  (desired ${r.desiredCommit.slice(0, 12)}${r.desiredAuthor ? ` by ${r.desiredAuthor}` : ''})` : '';
      for (const change of r.changes) out.push(`  ${r.time}  ${change}${cause}`);
    }
  }
  io.stdout(`${out.join('\n')}\n`);
  return 0;
}

function describeObserved(kind: StatusKind, obj: unknown, field: (label: string, value: string | number | undefined) => void, out: string[]): void {
  if (kind === 'Pod') {
    const pod = obj as PodObject;
    field('Node', pod.spec?.nodeName);
    field('Status', podStatus(pod));
    field('IP', pod.status?.podIP);
    field('Ready', podReady(pod));
    field('Restarts', podRestarts(pod));
    const owner = pod.metadata.ownerReferences?.[0];
    if (owner) field('Controlled By', `${owner.kind}/${owner.name}`);
    out.push('Containers:');
    for (const c of pod.status?.containerStatuses ?? []) {
      const state = c.state?.running ? `Running since ${c.state.running.startedAt}` : c.state?.waiting ? `Waiting: ${c.state.waiting.reason}${c.state.waiting.message ? ` (${c.state.waiting.message})` : ''}` : c.state?.terminated ? `Terminated: ${c.state.terminated.reason} (exit ${c.state.terminated.exitCode})` : 'Unknown';
      out.push(`  ${c.name}:`, `    Image:      ${c.image}`, `    State:      ${state}`, `    Ready:      ${c.ready}`, `    Restarts:   ${c.restartCount}`);
    }
    out.push('Conditions:');
    for (const c of pod.status?.conditions ?? []) out.push(`  ${c.type.padEnd(16)}${c.status}${c.reason ? `  ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`);
  } else if (kind === 'Node') {
    const node = obj as NodeObject;
    field('Status', nodeStatus(node));
    field('Address', nodeAddress(node));
    field('Pod CIDR', node.spec?.podCIDR);
    if (node.status?.nodeInfo) field('OS', `${node.status.nodeInfo.osImage}, kernel ${node.status.nodeInfo.kernelVersion}, ${node.status.nodeInfo.containerRuntimeVersion}`);
    out.push('Conditions:');
    for (const c of node.status?.conditions ?? []) out.push(`  ${c.type.padEnd(20)}${c.status}${c.reason ? `  ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`);
    const proxy = node.status?.proxy;
    if (proxy) {
      out.push(`Proxy (${proxy.mode}):`);
      for (const s of proxy.services) out.push(`  ${s.service}  ${s.vip}:${s.port}/${s.protocol} -> ${s.backends.join(', ') || '<none>'}`);
    }
  } else if (kind === 'Service') {
    const svc = obj as ServiceObject;
    field('Type', svc.spec.type);
    field('ClusterIP', svc.spec.clusterIP);
    field('Ports', servicePorts(svc));
    field('Endpoints', serviceEndpoints(svc).join(', ') || '<none>');
  } else {
    const w = obj as WorkloadObject;
    field('Ready', workloadReady(w));
    const s = w.status as Record<string, unknown>;
    if (s.observedCommit) field('Observed commit', String(s.observedCommit));
    const conditions = (s.conditions as Array<{ type: string; status: string; reason?: string; message?: string }> | undefined) ?? [];
    out.push('Conditions:');
    for (const c of conditions) out.push(`  ${c.type.padEnd(16)}${c.status}${c.reason ? `  ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`);
  }
}

async function desiredObject(repo: string, branch: string, applied: string | undefined, kind: StatusKind, namespace: string, name: string) {
  const commit = applied ?? (await readRef(resolveGitDir(repo), fullRef(branch)));
  if (!commit) return undefined;
  const { DesiredLoader } = await import('../source/loader.ts');
  const { sourceOf } = await import('../manifests/index.ts');
  let loaded;
  try {
    loaded = await new DesiredLoader(resolveGitDir(repo)).load(commit);
  } catch {
    return undefined; // the desired commit is not in this clone
  }
  const object = loaded.store.all().find((o) => o.kind === kind && o.metadata.name === name && (kind === 'Node' || (o.metadata.namespace ?? 'default') === namespace));
  if (!object) return undefined;
  const summary = await summarizeCommit(repo, commit);
  return { object, commit, source: sourceOf(object), author: summary ? `${summary.author} <${summary.email}>` : undefined };
}

function indent(text: string, prefix: string): string[] {
  return text.trimEnd().split('\n').map((l) => `${prefix}${l}`);
}
