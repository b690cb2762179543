/**
 * `cox get pods|deployments|services|nodes|replicasets|daemonsets [NAME] [-n NS | -A] [-o wide|yaml|json] [--repo DIR] [--status-branch B]`
 *
 * Reads the status branch only (any clone will do: no access to the hosts; a
 * plain clone's origin/coxswain/status too) and prints kubectl's tables; AGE is
 * counted from the objects' timestamps. No status branch at all: exit 1.
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '../../common/errors.ts';
import type { NodeObject, PodObject, ServiceObject, WorkloadObject } from '../model.ts';
import { readStatusSnapshot, DEFAULT_STATUS_BRANCH } from '../status/index.ts';
import { age, nodeAddress, nodeStatus, num, podReady, podRestarts, podStatus, serviceEndpoints, servicePorts, workloadReady } from '../status/columns.ts';
import { formatTable, objectsOfKind, parseTarget, type StatusKind } from '../status/query.ts';
import type { StatusObject } from '../status/render.ts';
import { outputFormat, parse } from './args.ts';
import { statusBranchRef } from './status-branch.ts';
import type { CommandIO } from './main.ts';

export async function run(args: string[], io: CommandIO, now = new Date()): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A', default: false },
    output: { type: 'string', short: 'o' },
    repo: { type: 'string', default: '.' },
    'status-branch': { type: 'string', default: DEFAULT_STATUS_BRANCH },
  });
  const format = outputFormat(values.output, ['table', 'wide', 'yaml', 'json'] as const, 'table');
  const { kind, name } = parseTarget(positionals);
  const all = values['all-namespaces'] && !name;
  const namespace = all ? undefined : (values.namespace ?? 'default');
  const repo = path.resolve(io.cwd, values.repo!);
  const { observed } = await readStatusSnapshot(repo, await statusBranchRef(repo, values['status-branch']!));
  let objects = objectsOfKind(observed, kind, namespace);
  if (name) {
    objects = objects.filter((o) => o.metadata.name === name);
    if (objects.length === 0) {
      const where = kind === 'Node' ? '' : ` in namespace ${namespace}`;
      throw new ConfigError(`${kind.toLowerCase()}s "${name}" not found${where}`, { kind, name, namespace });
    }
  }
  if (format === 'json' || format === 'yaml') {
    const doc = name ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects };
    io.stdout(format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc, { lineWidth: 0 }));
    return 0;
  }
  if (objects.length === 0) {
    io.stderr(kind === 'Node' || all ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`);
    return 0;
  }
  const { header, rows } = tableFor(kind, objects, format === 'wide', now);
  const withNs = all && kind !== 'Node';
  io.stdout(formatTable(withNs ? ['NAMESPACE', ...header] : header, withNs ? rows.map((r, i) => [objects[i].metadata.namespace ?? '', ...r]) : rows));
  return 0;
}

export function tableFor(kind: StatusKind, objects: StatusObject[], wide: boolean, now: Date): { header: string[]; rows: string[][] } {
  switch (kind) {
    case 'Pod': {
      const header = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE'] : [])];
      const rows = (objects as PodObject[]).map((p) => [
        p.metadata.name,
        podReady(p),
        podStatus(p),
        String(podRestarts(p)),
        age(p.metadata.creationTimestamp ?? p.status?.startTime, now),
        ...(wide ? [p.status?.podIP ?? '<none>', p.spec?.nodeName ?? '<none>'] : []),
      ]);
      return { header, rows };
    }
    case 'Node': {
      const header = ['NAME', 'STATUS', 'ROLES', 'AGE', ...(wide ? ['INTERNAL-IP', 'POD-CIDR', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'] : [])];
      const rows = (objects as NodeObject[]).map((n) => [
        n.metadata.name,
        nodeStatus(n),
        '<none>',
        age(n.metadata.creationTimestamp, now),
        ...(wide ? [nodeAddress(n), n.spec?.podCIDR ?? '<none>', n.status?.nodeInfo?.osImage ?? '<unknown>', n.status?.nodeInfo?.kernelVersion ?? '<unknown>', n.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>'] : []),
      ]);
      return { header, rows };
    }
    case 'Service': {
      const header = ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', ...(wide ? ['SELECTOR', 'ENDPOINTS'] : [])];
      const rows = (objects as ServiceObject[]).map((s) => [
        s.metadata.name,
        s.spec.type,
        s.spec.clusterIP,
        '<none>',
        servicePorts(s),
        age(s.metadata.creationTimestamp, now),
        ...(wide
          ? [
              Object.entries(s.spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>',
              serviceEndpoints(s).join(',') || '<none>',
            ]
          : []),
      ]);
      return { header, rows };
    }
    default: {
      const workloads = objects as WorkloadObject[];
      const status = (w: WorkloadObject) => w.status as Record<string, unknown>;
      if (kind === 'DaemonSet') {
        const header = ['NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'];
        const rows = workloads.map((w) => {
          const s = status(w);
          return [w.metadata.name, String(num(s.desiredNumberScheduled)), String(num(s.currentNumberScheduled)), String(num(s.numberReady)), String(num(s.updatedNumberScheduled)), String(num(s.numberAvailable)), age(w.metadata.creationTimestamp, now)];
        });
        return { header, rows };
      }
      if (kind === 'ReplicaSet' || kind === 'ReplicationController') {
        const header = ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'];
        const rows = workloads.map((w) => {
          const s = status(w);
          return [w.metadata.name, String(num(s.replicas)), String(num(s.availableReplicas ?? s.replicas)), String(num(s.readyReplicas)), age(w.metadata.creationTimestamp, now)];
        });
        return { header, rows };
      }
      const header = ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', ...(wide ? ['OBSERVED-COMMIT'] : [])];
      const rows = workloads.map((w) => {
        const s = status(w);
        return [w.metadata.name, workloadReady(w), String(num(s.updatedReplicas)), String(num(s.availableReplicas)), age(w.metadata.creationTimestamp, now), ...(wide ? [String(s.observedCommit ?? '<none>').slice(0, 12)] : [])];
      });
      return { header, rows };
    }
  }
}
