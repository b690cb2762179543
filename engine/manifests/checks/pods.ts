import type { PodSpec } from '../../../schemas/types.generated.ts';
import type { ManifestObject } from '../types.ts';
import type { FieldPath } from '../yaml.ts';

export interface PodSpecSite {
  spec: PodSpec;
  /** Where the pod spec sits in its object. */
  path: FieldPath;
  /** The labels its pods carry. */
  labels: Record<string, string>;
}

/** The pod spec an object runs (a Pod's own, a workload's template), if any. */
export function podSpecOf(object: ManifestObject): PodSpecSite | undefined {
  if (object.kind === 'Pod') {
    return { spec: (object as unknown as { spec: PodSpec }).spec, path: ['spec'], labels: object.metadata.labels ?? {} };
  }
  if (object.kind === 'Deployment' || object.kind === 'ReplicaSet' || object.kind === 'ReplicationController' || object.kind === 'DaemonSet') {
    const template = (object as unknown as { spec: { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } } }).spec.template;
    return { spec: template.spec, path: ['spec', 'template', 'spec'], labels: template.metadata?.labels ?? {} };
  }
  return undefined;
}
