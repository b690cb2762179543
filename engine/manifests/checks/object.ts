/**
 * Checks of one object on its own, after it passed its schema: names, labels,
 * selectors against templates, pod spec consistency, host keys, CIDRs. The
 * results depend only on the object, so they are cached with the file.
 */
import { cpuMillis, bytes } from '../../../common/quantity.ts';
import type {
  Cluster, ConfigMap, Container, DaemonSet, Deployment, LabelSelector, Node, PodSpec, Probe, ReplicaSet, ReplicationController, Secret, Service,
} from '../../../schemas/types.generated.ts';
import type { KindName } from '../kinds.ts';
import { dns1035Label, dns1123Label, dns1123Subdomain, isIPv4, labelKey, labelValue, parseCidr, portName } from '../names.ts';
import type { ManifestObject } from '../types.ts';
import type { FieldPath } from '../yaml.ts';
import { Findings, type Finding } from './finding.ts';
import { hostKeyProblem } from './host-keys.ts';
import { selectorMatches } from './selectors.ts';

export function checkObject(kind: KindName, object: ManifestObject): Finding[] {
  const out = new Findings();
  checkMetadata(kind, object, out);
  switch (kind) {
    case 'Pod':
      checkPodSpec((object as unknown as { spec: PodSpec }).spec, ['spec'], out, false);
      break;
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
      checkWorkload(object as unknown as Deployment | ReplicaSet | DaemonSet, out);
      break;
    case 'ReplicationController':
      checkReplicationController(object as unknown as ReplicationController, out);
      break;
    case 'Service':
      checkService(object as unknown as Service, out);
      break;
    case 'ConfigMap':
      checkConfigMap(object as unknown as ConfigMap, out);
      break;
    case 'Secret':
      checkDataKeys((object as unknown as Secret).data, ['data'], out);
      break;
    case 'Node':
      checkNode(object as unknown as Node, out);
      break;
    case 'Cluster':
      checkCluster(object as unknown as Cluster, out);
      break;
  }
  const status = object.status;
  if (status && typeof status === 'object' && Object.keys(status).length > 0) {
    out.warning(['status'], 'ignored: observed state is written by the engine to the coxswain/status branch, not read from manifests', 'key');
  }
  return out.list;
}

function checkMetadata(kind: KindName, object: ManifestObject, out: Findings): void {
  const { name, namespace, labels, annotations } = object.metadata;
  const nameProblem = kind === 'Namespace' ? dns1123Label(name) : kind === 'Service' ? dns1035Label(name) : dns1123Subdomain(name);
  if (nameProblem) out.error(['metadata', 'name'], nameProblem);
  if (namespace !== undefined) {
    if (kind === 'Namespace' || kind === 'Node' || kind === 'Cluster') {
      out.warning(['metadata', 'namespace'], `ignored: a ${kind} belongs to no namespace`, 'key');
      delete object.metadata.namespace;
    } else {
      const problem = dns1123Label(namespace);
      if (problem) out.error(['metadata', 'namespace'], problem);
    }
  }
  checkLabels(labels, ['metadata', 'labels'], out);
  for (const key of Object.keys(annotations ?? {})) {
    const problem = labelKey(key);
    if (problem) out.error(['metadata', 'annotations', key], problem.replace('label key', 'annotation key'), 'key');
  }
}

function checkLabels(labels: Record<string, string> | undefined, path: FieldPath, out: Findings): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    const keyProblem = labelKey(key);
    if (keyProblem) out.error([...path, key], keyProblem, 'key');
    const valueProblem = labelValue(value);
    if (valueProblem) out.error([...path, key], valueProblem);
  }
}

function checkSelector(selector: LabelSelector, path: FieldPath, out: Findings): void {
  checkLabels(selector.matchLabels, [...path, 'matchLabels'], out);
  (selector.matchExpressions ?? []).forEach((expression, i) => {
    const at = [...path, 'matchExpressions', i];
    const problem = labelKey(expression.key);
    if (problem) out.error([...at, 'key'], problem);
    const values = expression.values ?? [];
    if ((expression.operator === 'In' || expression.operator === 'NotIn') && values.length === 0) {
      out.error([...at, 'values'], `operator ${expression.operator} needs at least one value`);
    }
    if ((expression.operator === 'Exists' || expression.operator === 'DoesNotExist') && values.length > 0) {
      out.error([...at, 'values'], `must be empty with operator ${expression.operator}`);
    }
  });
}

function checkWorkload(object: Deployment | ReplicaSet | DaemonSet, out: Findings): void {
  const { spec } = object;
  const selector = spec.selector;
  const labels = spec.template.metadata?.labels ?? {};
  checkLabels(labels, ['spec', 'template', 'metadata', 'labels'], out);
  checkSelector(selector, ['spec', 'selector'], out);
  if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0) {
    out.error(['spec', 'selector'], 'must not be empty: an empty selector would adopt every pod of the namespace');
  } else if (!selectorMatches(selector, labels)) {
    out.error(['spec', 'selector'], `does not match the template's labels ${formatLabels(labels)}: the ${object.kind} would never see its own pods`);
  }
  checkPodSpec(spec.template.spec, ['spec', 'template', 'spec'], out, true);
  if (object.kind === 'Deployment') {
    const strategy = (object as Deployment).spec.strategy;
    if (strategy?.type === 'Recreate' && strategy.rollingUpdate) {
      out.error(['spec', 'strategy', 'rollingUpdate'], 'must not be set when strategy.type is Recreate');
    }
    const rolling = strategy?.rollingUpdate;
    if (rolling) {
      for (const field of ['maxSurge', 'maxUnavailable'] as const) checkIntOrPercent(rolling[field], ['spec', 'strategy', 'rollingUpdate', field], out);
      if (isZero(rolling.maxSurge) && isZero(rolling.maxUnavailable)) {
        out.error(['spec', 'strategy', 'rollingUpdate'], 'maxSurge and maxUnavailable cannot both be 0: the rollout could never make progress');
      }
    }
  }
  if (object.kind === 'DaemonSet') {
    const rolling = (object as DaemonSet).spec.updateStrategy?.rollingUpdate;
    if (rolling) {
      for (const field of ['maxSurge', 'maxUnavailable'] as const) checkIntOrPercent(rolling[field], ['spec', 'updateStrategy', 'rollingUpdate', field], out);
      if (isZero(rolling.maxSurge) && isZero(rolling.maxUnavailable)) {
        out.error(['spec', 'updateStrategy', 'rollingUpdate'], 'maxSurge and maxUnavailable cannot both be 0: the rollout could never make progress');
      }
    }
  }
}

function checkReplicationController(object: ReplicationController, out: Findings): void {
  const labels = object.spec.template.metadata?.labels ?? {};
  checkLabels(labels, ['spec', 'template', 'metadata', 'labels'], out);
  const selector = object.spec.selector ?? {};
  checkLabels(selector, ['spec', 'selector'], out);
  if (Object.keys(selector).length === 0) {
    out.error(['spec', 'template', 'metadata', 'labels'], 'must not be empty: a ReplicationController without a selector selects its template labels');
  } else if (!selectorMatches({ matchLabels: selector }, labels)) {
    out.error(['spec', 'selector'], `does not match the template's labels ${formatLabels(labels)}: the ReplicationController would never see its own pods`);
  }
  checkPodSpec(object.spec.template.spec, ['spec', 'template', 'spec'], out, true);
}

function checkIntOrPercent(value: number | string | undefined, path: FieldPath, out: Findings): void {
  if (value === undefined) return;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) out.error(path, `must be a non-negative integer or a percentage, not ${value}`);
  } else if (!/^[0-9]+%$/.test(value)) {
    out.error(path, `must be an integer or a percentage such as "25%", not "${value}"`);
  } else if (Number(value.slice(0, -1)) > 100) {
    out.error(path, `must be at most 100%, not "${value}"`);
  }
}

function isZero(value: number | string | undefined): boolean {
  return value === 0 || value === '0%';
}

const RESOURCE_NAMES = new Set(['cpu', 'memory']);

/** Pod spec checks; `inTemplate` applies the rules of a controller's template (restartPolicy Always). */
export function checkPodSpec(spec: PodSpec, path: FieldPath, out: Findings, inTemplate: boolean): void {
  if (inTemplate && spec.restartPolicy !== 'Always') {
    out.error([...path, 'restartPolicy'], `must be Always in a controller's template, not ${spec.restartPolicy}: the controller replaces pods that end`);
  }
  const volumes = new Set<string>();
  (spec.volumes ?? []).forEach((volume, i) => {
    const at = [...path, 'volumes', i];
    const problem = dns1123Label(volume.name);
    if (problem) out.error([...at, 'name'], problem);
    if (volumes.has(volume.name)) out.error([...at, 'name'], `volume "${volume.name}" is declared twice`);
    volumes.add(volume.name);
    const sources = (['emptyDir', 'configMap', 'secret', 'hostPath'] as const).filter((source) => volume[source] !== undefined);
    if (sources.length === 0) out.error(at, `volume "${volume.name}" needs a source: emptyDir, configMap, secret or hostPath`);
    if (sources.length > 1) out.error(at, `volume "${volume.name}" has more than one source (${sources.join(', ')})`);
  });
  const containerNames = new Set<string>();
  const portNames = new Set<string>();
  const containers: Array<[Container, FieldPath]> = [
    ...(spec.initContainers ?? []).map((c, i): [Container, FieldPath] => [c, [...path, 'initContainers', i]]),
    ...spec.containers.map((c, i): [Container, FieldPath] => [c, [...path, 'containers', i]]),
  ];
  for (const [container, at] of containers) {
    const problem = dns1123Label(container.name);
    if (problem) out.error([...at, 'name'], problem);
    if (containerNames.has(container.name)) out.error([...at, 'name'], `container name "${container.name}" is used twice in this pod`);
    containerNames.add(container.name);
    const ownPorts = new Set<string>();
    (container.ports ?? []).forEach((port, j) => {
      if (port.name === undefined) return;
      const portProblem = portName(port.name);
      if (portProblem) out.error([...at, 'ports', j, 'name'], portProblem);
      if (portNames.has(port.name)) out.error([...at, 'ports', j, 'name'], `port name "${port.name}" is used twice in this pod`);
      portNames.add(port.name);
      ownPorts.add(port.name);
    });
    (container.volumeMounts ?? []).forEach((mount, j) => {
      if (!volumes.has(mount.name)) {
        out.error([...at, 'volumeMounts', j, 'name'], `no volume named "${mount.name}" in this pod (declared: ${[...volumes].join(', ') || 'none'})`);
      }
    });
    for (const probeName of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const probe = container[probeName];
      if (probe) checkProbe(probe, ownPorts, [...at, probeName], out);
    }
    checkResources(container, at, out);
  }
  (spec.tolerations ?? []).forEach((toleration, i) => {
    if (toleration.operator === 'Exists' && toleration.value) out.error([...path, 'tolerations', i, 'value'], 'must be empty with operator Exists');
    if (toleration.operator !== 'Exists' && !toleration.key) out.error([...path, 'tolerations', i, 'key'], 'is required unless operator is Exists');
  });
  const spreadPairs = new Set<string>();
  (spec.topologySpreadConstraints ?? []).forEach((constraint, i) => {
    const at = [...path, 'topologySpreadConstraints', i];
    const pair = `${constraint.topologyKey}/${constraint.whenUnsatisfiable}`;
    if (spreadPairs.has(pair)) out.error([...at, 'topologyKey'], `a second constraint on topologyKey ${constraint.topologyKey} with whenUnsatisfiable ${constraint.whenUnsatisfiable}`);
    spreadPairs.add(pair);
    if (constraint.minDomains !== undefined && constraint.whenUnsatisfiable !== 'DoNotSchedule') out.error([...at, 'minDomains'], 'can only be set with whenUnsatisfiable DoNotSchedule');
    if (constraint.labelSelector) checkSelector(constraint.labelSelector, [...at, 'labelSelector'], out);
    else if (constraint.matchLabelKeys?.length) out.error([...at, 'matchLabelKeys'], 'can only be set with a labelSelector');
  });
}

function checkProbe(probe: Probe, ports: Set<string>, path: FieldPath, out: Findings): void {
  const handlers = (['httpGet', 'tcpSocket', 'exec'] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length !== 1) {
    out.error(path, handlers.length === 0 ? 'needs one handler: httpGet, tcpSocket or exec' : `has more than one handler (${handlers.join(', ')})`);
  }
  for (const handler of ['httpGet', 'tcpSocket'] as const) {
    const port = probe[handler]?.port;
    if (typeof port === 'string' && !ports.has(port)) {
      out.error([...path, handler, 'port'], `the container declares no port named "${port}"`);
    } else if (typeof port === 'number' && (port < 1 || port > 65535)) {
      out.error([...path, handler, 'port'], `must be between 1 and 65535, not ${port}`);
    }
  }
}

function checkResources(container: Container, at: FieldPath, out: Findings): void {
  const { requests = {}, limits = {} } = container.resources ?? {};
  for (const [section, list] of [['requests', requests], ['limits', limits]] as const) {
    for (const name of Object.keys(list)) {
      if (!RESOURCE_NAMES.has(name)) out.warning([...at, 'resources', section, name], 'accepted but has no effect in Coxswain (only cpu and memory are counted)', 'key');
    }
  }
  for (const name of ['cpu', 'memory'] as const) {
    const request = requests[name];
    const limit = limits[name];
    if (request === undefined || limit === undefined) continue;
    const amount = name === 'cpu' ? cpuMillis : bytes;
    if (amount(request) > amount(limit)) {
      out.error([...at, 'resources', 'requests', name], `request ${request} is more than the limit ${limit}`);
    }
  }
}

function checkService(service: Service, out: Findings): void {
  const { spec } = service;
  const names = new Set<string>();
  const seen = new Set<string>();
  spec.ports.forEach((port, i) => {
    const at = ['spec', 'ports', i];
    if (port.name !== undefined) {
      const problem = dns1123Label(port.name);
      if (problem) out.error([...at, 'name'], problem);
      if (names.has(port.name)) out.error([...at, 'name'], `port name "${port.name}" is used twice`);
      names.add(port.name);
    } else if (spec.ports.length > 1) {
      out.error([...at], 'needs a name: a Service with more than one port must name each');
    }
    const key = `${port.port}/${port.protocol ?? 'TCP'}`;
    if (seen.has(key)) out.error([...at, 'port'], `port ${key} is declared twice`);
    seen.add(key);
    if (typeof port.targetPort === 'string') {
      const problem = portName(port.targetPort);
      if (problem) out.error([...at, 'targetPort'], problem);
    } else if (port.targetPort !== undefined && (port.targetPort < 1 || port.targetPort > 65535)) {
      out.error([...at, 'targetPort'], `must be between 1 and 65535, not ${port.targetPort}`);
    }
    if (port.nodePort !== undefined && spec.type !== 'NodePort') out.error([...at, 'nodePort'], 'may only be set when type is NodePort');
  });
  if (spec.clusterIP !== undefined && spec.clusterIP !== 'None' && spec.clusterIP !== '' && !isIPv4(spec.clusterIP)) {
    out.error(['spec', 'clusterIP'], `must be an IPv4 address or "None", not "${spec.clusterIP}"`);
  }
  if (spec.clusterIP === 'None' && spec.type === 'NodePort') out.error(['spec', 'clusterIP'], 'cannot be None (headless) for a NodePort Service');
  if (!spec.selector || Object.keys(spec.selector).length === 0) {
    out.warning(['spec'], 'has no selector: the Service will have no endpoints (Coxswain does not read manual Endpoints)');
  }
  checkLabels(spec.selector, ['spec', 'selector'], out);
  if (spec.sessionAffinityConfig && spec.sessionAffinity !== 'ClientIP') {
    out.warning(['spec', 'sessionAffinityConfig'], 'has no effect unless sessionAffinity is ClientIP', 'key');
  }
}

function checkConfigMap(configMap: ConfigMap, out: Findings): void {
  checkDataKeys(configMap.data, ['data'], out);
  checkDataKeys(configMap.binaryData, ['binaryData'], out);
  for (const key of Object.keys(configMap.binaryData ?? {})) {
    if (configMap.data && Object.hasOwn(configMap.data, key)) out.error(['binaryData', key], `key "${key}" is also in data`, 'key');
  }
}

function checkDataKeys(data: Record<string, string> | undefined, path: FieldPath, out: Findings): void {
  for (const key of Object.keys(data ?? {})) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
      out.error([...path, key], `key "${key}" must consist of letters, digits, '-', '_' or '.' (it becomes a file name)`, 'key');
    }
  }
}

function checkNode(node: Node, out: Findings): void {
  const ssh = node.spec.ssh;
  if (!isIPv4(ssh.address) && dns1123Subdomain(ssh.address.toLowerCase())) {
    out.error(['spec', 'ssh', 'address'], `"${ssh.address}" is neither an IPv4 address nor a host name`);
  }
  ssh.hostKeys.forEach((key, i) => {
    const problem = hostKeyProblem(key);
    if (problem) out.error(['spec', 'ssh', 'hostKeys', i], problem);
  });
  if (node.spec.podCIDR !== undefined && !parseCidr(node.spec.podCIDR)) {
    out.error(['spec', 'podCIDR'], `"${node.spec.podCIDR}" is not an IPv4 CIDR such as 100.64.1.0/24`);
  }
  checkLabels(node.metadata.labels, ['metadata', 'labels'], out);
}

function checkCluster(cluster: Cluster, out: Findings): void {
  const spec = cluster.spec ?? {};
  const pods = spec.podCIDR === undefined ? undefined : parseCidr(spec.podCIDR);
  const services = spec.serviceCIDR === undefined ? undefined : parseCidr(spec.serviceCIDR);
  if (spec.podCIDR !== undefined && !pods) out.error(['spec', 'podCIDR'], `"${spec.podCIDR}" is not an IPv4 CIDR such as 100.64.0.0/16`);
  else if (pods && pods.bits > 24) out.error(['spec', 'podCIDR'], `/${pods.bits} is too small: every node gets a /24 of it`);
  if (spec.serviceCIDR !== undefined && !services) out.error(['spec', 'serviceCIDR'], `"${spec.serviceCIDR}" is not an IPv4 CIDR such as 100.127.0.0/24`);
  if (pods && services && (pods.bits <= services.bits ? contains(pods, services) : contains(services, pods))) {
    out.error(['spec', 'serviceCIDR'], `overlaps podCIDR ${spec.podCIDR}`);
  }
  if (spec.nodePortRange !== undefined) {
    const [low, high] = spec.nodePortRange.split('-').map(Number);
    if (!(low >= 1 && high <= 65535 && low <= high)) out.error(['spec', 'nodePortRange'], `"${spec.nodePortRange}" must be LOW-HIGH within 1-65535`);
  }
  const heartbeat = spec.nodeHeartbeatIntervalSeconds ?? 2;
  const grace = spec.nodeMonitorGracePeriodSeconds ?? 8;
  if (grace < 2 * heartbeat) {
    out.warning(['spec', 'nodeMonitorGracePeriodSeconds'], `${grace}s is less than two heartbeat intervals (${heartbeat}s): nodes will flap to Unknown on one late heartbeat`);
  }
}

function contains(outer: { base: number; bits: number }, inner: { base: number; bits: number }): boolean {
  const mask = outer.bits === 0 ? 0 : (0xffffffff << (32 - outer.bits)) >>> 0;
  return ((inner.base & mask) >>> 0) === outer.base;
}

export function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length ? `{${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}}` : '{}';
}
