/**
 * Checks across objects: the same object twice, node addresses and pod
 * subnets, service addresses and node ports against the Cluster, references
 * to ConfigMaps and Secrets, Service ports against the pods they select, and
 * the cluster's security policy. Positions come from the loader's origins.
 */
import type { Cluster, ConfigMap, LabelSelector, Node, PodSpec, Secret, Service } from '../../../schemas/types.generated.ts';
import { selectorMatches } from './selectors.ts';
import { KINDS } from '../kinds.ts';
import { cidrContains, cidrsOverlap, ipToNumber, isIPv4, parseCidr, type Cidr } from '../names.ts';
import { positionOf, sourceOf } from '../positions.ts';
import { keyOf } from '../store.ts';
import type { Diagnostic, ManifestObject } from '../types.ts';
import type { FieldPath } from '../yaml.ts';
import type { Finding } from './finding.ts';
import { podSpecOf, type PodSpecSite } from './pods.ts';
import { checkPolicy } from './policy.ts';
import { formatPath } from '../schema.ts';

/** Every cross-object check over a list of objects in file order (the first of two alike is the one kept). */
export function checkRepository(objects: ManifestObject[], cluster?: Cluster): Diagnostic[] {
  const effectiveCluster = cluster ?? (objects.find((o) => o.kind === 'Cluster') as Cluster | undefined);
  const byNamespace = new Map<string, ManifestObject[]>();
  for (const object of objects) {
    const namespace = object.metadata.namespace ?? '';
    let list = byNamespace.get(namespace);
    if (!list) byNamespace.set(namespace, (list = []));
    list.push(object);
  }
  const diagnostics = [...byNamespace.values()].flatMap((list) => checkNamespace(list, effectiveCluster));
  diagnostics.push(...checkAcrossNamespaces(objects.filter(isCheckedAcrossNamespaces), effectiveCluster));
  return diagnostics;
}

function reporter(diagnostics: Diagnostic[]) {
  const report = (object: ManifestObject, finding: Finding) => {
    const at = positionOf(object, finding.path, finding.which) ?? { file: '(generated)', line: 1, column: 1 };
    diagnostics.push({ ...at, severity: finding.severity, field: formatPath(finding.path), message: finding.message });
  };
  const error = (object: ManifestObject, path: FieldPath, message: string, which: 'key' | 'value' = 'value') =>
    report(object, { path, which, severity: 'error', message: `${formatPath(path)}: ${message}` });
  const warning = (object: ManifestObject, path: FieldPath, message: string, which: 'key' | 'value' = 'value') =>
    report(object, { path, which, severity: 'warning', message: `${formatPath(path)}: ${message}` });
  return { report, error, warning };
}

/**
 * The checks that only relate objects of one namespace (or of none, for
 * cluster-scoped objects), and the policy: their result depends on nothing
 * but `objects` (in file order) and the cluster's spec.policy.
 */
export function checkNamespace(objects: ManifestObject[], cluster: Cluster | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const { report, error, warning } = reporter(diagnostics);
  checkDuplicates(objects, error);
  checkServiceSelectors(objects, warning);
  checkReferences(objects, error);
  checkOverlappingSelectors(objects, warning);
  if (cluster) {
    for (const object of objects) {
      const site = podSpecOf(object);
      if (site) for (const finding of checkPolicy(site.spec, site.path, cluster)) report(object, finding);
    }
  }
  return diagnostics;
}

/**
 * The objects the checks across namespaces look at: Clusters, Nodes, and
 * Services with a clusterIP or a node port. Any other object leaves their result as it is.
 */
export function isCheckedAcrossNamespaces(object: ManifestObject): boolean {
  if (object.kind === 'Cluster' || object.kind === 'Node') return true;
  if (object.kind !== 'Service') return false;
  const { spec } = object as unknown as Service;
  return spec.clusterIP !== undefined || spec.ports.some((port) => port.nodePort !== undefined);
}

/** One Cluster, node addresses and subnets, service addresses and node ports: over the objects isCheckedAcrossNamespaces picks, in file order. */
export function checkAcrossNamespaces(objects: ManifestObject[], cluster: Cluster | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const { error } = reporter(diagnostics);
  const clusters = objects.filter((o) => o.kind === 'Cluster');
  for (const extra of clusters.slice(1)) error(extra, ['kind'], `a repository has one Cluster; the first is at ${where(clusters[0])}`);
  const spec = cluster?.spec ?? {};
  const podCIDR = spec.podCIDR ? parseCidr(spec.podCIDR) : undefined;
  const serviceCIDR = spec.serviceCIDR ? parseCidr(spec.serviceCIDR) : undefined;
  const [portLow, portHigh] = (spec.nodePortRange ?? '30000-32767').split('-').map(Number);
  checkNodes(objects.filter((o) => o.kind === 'Node') as unknown as Array<Node & ManifestObject>, podCIDR, spec.podCIDR, error);
  checkServiceAddresses(objects, serviceCIDR, spec.serviceCIDR, [portLow, portHigh], spec.nodePortRange ?? '30000-32767', error);
  return diagnostics;
}

type Report = (object: ManifestObject, path: FieldPath, message: string, which?: 'key' | 'value') => void;

function where(object: ManifestObject): string {
  const at = sourceOf(object);
  return at ? `${at.file}:${at.line}:${at.column}` : '(generated)';
}

function describeObject(object: ManifestObject): string {
  return `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
}

function checkDuplicates(objects: ManifestObject[], error: Report): void {
  const first = new Map<string, ManifestObject>();
  for (const object of objects) {
    if (!Object.hasOwn(KINDS, object.kind) || object.kind === 'Cluster') continue;
    const key = keyOf(object.kind, object.metadata.namespace, object.metadata.name);
    const earlier = first.get(key);
    if (earlier) error(object, ['metadata', 'name'], `${describeObject(object)} is defined twice: also at ${where(earlier)}`);
    else first.set(key, object);
  }
}

function checkNodes(nodes: Array<Node & ManifestObject>, podCIDR: Cidr | undefined, podCIDRText: string | undefined, error: Report): void {
  const addresses = new Map<string, Node & ManifestObject>();
  const subnets: Array<[Cidr, Node & ManifestObject]> = [];
  for (const node of nodes) {
    const ssh = node.spec.ssh;
    const address = `${ssh.address.toLowerCase()}:${ssh.port ?? 22}`;
    const other = addresses.get(address);
    if (other) error(node, ['spec', 'ssh', 'address'], `${ssh.address} port ${ssh.port ?? 22} is also the address of node ${other.metadata.name} (${where(other)})`);
    else addresses.set(address, node);
    const subnet = node.spec.podCIDR ? parseCidr(node.spec.podCIDR) : undefined;
    if (!subnet) continue;
    if (podCIDR && !(subnet.bits >= podCIDR.bits && cidrContains(podCIDR, subnet.base))) {
      error(node, ['spec', 'podCIDR'], `${node.spec.podCIDR} is outside the cluster's podCIDR ${podCIDRText}`);
    }
    const clash = subnets.find(([cidr]) => cidrsOverlap(cidr, subnet));
    if (clash) error(node, ['spec', 'podCIDR'], `${node.spec.podCIDR} overlaps node ${clash[1].metadata.name}'s podCIDR ${clash[1].spec.podCIDR}`);
    subnets.push([subnet, node]);
  }
}

function checkServiceAddresses(
  objects: ManifestObject[],
  serviceCIDR: Cidr | undefined,
  serviceCIDRText: string | undefined,
  [low, high]: number[],
  rangeText: string,
  error: Report,
): void {
  const nodePorts = new Map<string, ManifestObject>();
  const clusterIPs = new Map<string, ManifestObject>();
  for (const object of objects) {
    if (object.kind !== 'Service') continue;
    const service = object as unknown as Service;
    const { clusterIP } = service.spec;
    if (clusterIP && clusterIP !== 'None' && isIPv4(clusterIP)) {
      if (serviceCIDR && !cidrContains(serviceCIDR, ipToNumber(clusterIP))) error(object, ['spec', 'clusterIP'], `${clusterIP} is outside the cluster's serviceCIDR ${serviceCIDRText}`);
      const other = clusterIPs.get(clusterIP);
      if (other) error(object, ['spec', 'clusterIP'], `${clusterIP} is also the clusterIP of ${describeObject(other)} (${where(other)})`);
      else clusterIPs.set(clusterIP, object);
    }
    service.spec.ports.forEach((port, i) => {
      if (port.nodePort === undefined) return;
      if (port.nodePort < low || port.nodePort > high) error(object, ['spec', 'ports', i, 'nodePort'], `${port.nodePort} is outside the cluster's nodePortRange ${rangeText}`);
      const key = `${port.nodePort}/${port.protocol ?? 'TCP'}`;
      const other = nodePorts.get(key);
      if (other) error(object, ['spec', 'ports', i, 'nodePort'], `${key} is also used by ${describeObject(other)} (${where(other)})`);
      else nodePorts.set(key, object);
    });
  }
}

function checkServiceSelectors(objects: ManifestObject[], warning: Report): void {
  // Pod specs by namespace and by each label they carry, so a selector only looks at pods with its first label.
  const podSitesByLabel = new Map<string, Array<{ object: ManifestObject; site: PodSpecSite }>>();
  for (const object of objects) {
    const site = podSpecOf(object);
    if (!site) continue;
    for (const [key, value] of Object.entries(site.labels)) {
      const index = `${object.metadata.namespace}\u0000${key}\u0000${value}`;
      let list = podSitesByLabel.get(index);
      if (!list) podSitesByLabel.set(index, (list = []));
      list.push({ object, site });
    }
  }
  for (const object of objects) {
    if (object.kind !== 'Service') continue;
    const service = object as unknown as Service;
    const selector = service.spec.selector ? selectorEntries(service.spec.selector) : [];
    const selected = selector.length > 0
      ? (podSitesByLabel.get(`${object.metadata.namespace}\u0000${selector[0][0]}\u0000${selector[0][1]}`) ?? []).filter(({ site }) => labelsMatch(selector, site.labels))
      : undefined;
    if (selected && selected.length === 0) {
      warning(object, ['spec', 'selector'], `selects no Pod or pod template in namespace ${object.metadata.namespace}: the Service will have no endpoints`);
    }
    if (!selected || selected.length === 0) continue;
    service.spec.ports.forEach((port, i) => {
      if (typeof port.targetPort !== 'string') return;
      const declares = (spec: PodSpec) => spec.containers.some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP')));
      const missing = selected.filter(({ site }) => !declares(site.spec)).map(({ object: o }) => describeObject(o));
      if (missing.length > 0) {
        warning(object, ['spec', 'ports', i, 'targetPort'], `no container of ${missing.join(', ')} declares a port named "${port.targetPort}": those pods get no endpoint for it`);
      }
    });
  }
}

/**
 * Two controllers whose selectors pick the same pods fight over them (each
 * scales the other's away), and a controller adopts a bare Pod its selector
 * matches. Kubernetes allows both; here they are warnings.
 */
function checkOverlappingSelectors(objects: ManifestObject[], warning: Report): void {
  const WORKLOADS = new Set(['Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet']);
  const byNamespace = new Map<string | undefined, ManifestObject[]>();
  for (const object of objects) {
    if (object.kind !== 'Pod' && !WORKLOADS.has(object.kind)) continue;
    let list = byNamespace.get(object.metadata.namespace);
    if (!list) byNamespace.set(object.metadata.namespace, (list = []));
    list.push(object);
  }
  for (const list of byNamespace.values()) {
    // Pods and templates by each label they carry: a selector with matchLabels only looks at those with its first label.
    const byLabel = new Map<string, ManifestObject[]>();
    for (const object of list) {
      for (const [key, value] of Object.entries(podSpecOf(object)!.labels)) {
        const index = `${key}\u0000${value}`;
        let carriers = byLabel.get(index);
        if (!carriers) byLabel.set(index, (carriers = []));
        carriers.push(object);
      }
    }
    for (const owner of list) {
      if (!WORKLOADS.has(owner.kind)) continue;
      const spec = (owner as unknown as { spec: { selector?: LabelSelector | Record<string, string> } }).spec;
      const selector: LabelSelector = owner.kind === 'ReplicationController' ? { matchLabels: (spec.selector ?? {}) as Record<string, string> } : ((spec.selector ?? {}) as LabelSelector);
      const [first] = Object.entries(selector.matchLabels ?? {});
      if (!first && (selector.matchExpressions ?? []).length === 0) continue;
      const candidates = first ? (byLabel.get(`${first[0]}\u0000${first[1]}`) ?? []) : list;
      const duplicate = (other: ManifestObject) => other.kind === owner.kind && other.metadata.name === owner.metadata.name; // reported as defined twice
      const overlaps = candidates.filter((other) => other !== owner && !duplicate(other) && selectorMatches(selector, podSpecOf(other)!.labels)).map(describeObject);
      if (overlaps.length > 0) {
        warning(owner, ['spec', 'selector'], `also selects the pods of ${overlaps.join(', ')}: a controller takes over every pod its selector matches (make the selectors disjoint)`);
      }
    }
  }
}

function selectorEntries(selector: Record<string, string>): Array<[string, string]> {
  return Object.entries(selector);
}

function labelsMatch(entries: Array<[string, string]>, labels: Record<string, string>): boolean {
  for (const [key, value] of entries) if (labels[key] !== value) return false;
  return true;
}

function checkReferences(objects: ManifestObject[], error: Report): void {
  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  for (const object of objects) {
    if (object.kind === 'ConfigMap') configMaps.set(`${object.metadata.namespace}/${object.metadata.name}`, object as unknown as ConfigMap);
    if (object.kind === 'Secret') secrets.set(`${object.metadata.namespace}/${object.metadata.name}`, object as unknown as Secret);
  }
  for (const object of objects) {
    const site = podSpecOf(object);
    if (!site) continue;
    const ns = object.metadata.namespace;
    const need = (kind: 'ConfigMap' | 'Secret', name: string, key: string | undefined, optional: boolean | undefined, path: FieldPath) => {
      if (optional) return;
      const found = kind === 'ConfigMap' ? configMaps.get(`${ns}/${name}`) : secrets.get(`${ns}/${name}`);
      if (!found) {
        error(object, path, `${kind} ${ns}/${name} is not in the repository (mark the reference optional: true if that is intended)`);
        return;
      }
      if (key === undefined) return;
      const data = kind === 'ConfigMap' ? { ...(found as ConfigMap).data, ...(found as ConfigMap).binaryData } : (found as Secret).data ?? {};
      if (!Object.hasOwn(data, key)) error(object, path, `${kind} ${ns}/${name} has no key "${key}" (it has: ${Object.keys(data).join(', ') || 'none'})`);
    };
    for (const group of ['initContainers', 'containers'] as const) {
      (site.spec[group] ?? []).forEach((container, i) => {
        const at = [...site.path, group, i];
        (container.env ?? []).forEach((env, j) => {
          const from = env.valueFrom;
          if (from?.configMapKeyRef) need('ConfigMap', from.configMapKeyRef.name, from.configMapKeyRef.key, from.configMapKeyRef.optional, [...at, 'env', j, 'valueFrom', 'configMapKeyRef']);
          if (from?.secretKeyRef) need('Secret', from.secretKeyRef.name, from.secretKeyRef.key, from.secretKeyRef.optional, [...at, 'env', j, 'valueFrom', 'secretKeyRef']);
        });
        (container.envFrom ?? []).forEach((source, j) => {
          if (source.configMapRef) need('ConfigMap', source.configMapRef.name, undefined, source.configMapRef.optional, [...at, 'envFrom', j, 'configMapRef']);
          if (source.secretRef) need('Secret', source.secretRef.name, undefined, source.secretRef.optional, [...at, 'envFrom', j, 'secretRef']);
        });
      });
    }
    (site.spec.volumes ?? []).forEach((volume, i) => {
      const at = [...site.path, 'volumes', i];
      if (volume.configMap) {
        need('ConfigMap', volume.configMap.name, undefined, volume.configMap.optional, [...at, 'configMap']);
        (volume.configMap.items ?? []).forEach((item, j) => need('ConfigMap', volume.configMap!.name, item.key, volume.configMap!.optional, [...at, 'configMap', 'items', j, 'key']));
      }
      if (volume.secret) {
        need('Secret', volume.secret.secretName, undefined, volume.secret.optional, [...at, 'secret']);
        (volume.secret.items ?? []).forEach((item, j) => need('Secret', volume.secret!.secretName, item.key, volume.secret!.optional, [...at, 'secret', 'items', j, 'key']));
      }
    });
  }
}
