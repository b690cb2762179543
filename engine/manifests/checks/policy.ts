/**
 * The cluster's security policy (cluster.yaml spec.policy): privileged
 * containers, host networking, hostPath volumes and host ports are refused
 * unless the policy allows them. Each error names the setting that would allow it.
 */
import type { Cluster, PodSpec } from '../../../schemas/types.generated.ts';
import type { FieldPath } from '../yaml.ts';
import { Findings, type Finding } from './finding.ts';

export function checkPolicy(spec: PodSpec, path: FieldPath, cluster: Cluster): Finding[] {
  const policy = cluster.spec?.policy ?? {};
  const out = new Findings();
  const refuse = (at: FieldPath, what: string, setting: string) =>
    out.error(at, `${what} is refused by the cluster policy (set spec.policy.${setting}: true in cluster.yaml to allow it)`);
  if (spec.hostNetwork && !policy.allowHostNetwork) refuse([...path, 'hostNetwork'], 'hostNetwork', 'allowHostNetwork');
  (spec.volumes ?? []).forEach((volume, i) => {
    if (volume.hostPath && !policy.allowHostPath) refuse([...path, 'volumes', i, 'hostPath'], `hostPath volume "${volume.name}" (${volume.hostPath.path})`, 'allowHostPath');
  });
  for (const group of ['initContainers', 'containers'] as const) {
    (spec[group] ?? []).forEach((container, i) => {
      const at = [...path, group, i];
      if (container.securityContext?.privileged && !policy.allowPrivileged) {
        refuse([...at, 'securityContext', 'privileged'], `privileged container "${container.name}"`, 'allowPrivileged');
      }
      (container.ports ?? []).forEach((port, j) => {
        if (port.hostPort !== undefined && !policy.allowHostPorts) {
          refuse([...at, 'ports', j, 'hostPort'], `hostPort ${port.hostPort} on container "${container.name}"`, 'allowHostPorts');
        }
      });
    });
  }
  return out.list;
}
