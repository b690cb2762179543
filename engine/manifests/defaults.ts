/**
 * Defaults that depend on other fields (the schemas carry the simple ones,
 * which ajv applies while validating). Runs on objects that passed their
 * schema; mutates them in place, the way the API server defaults on write.
 */
import type { Container, DaemonSet, Deployment, PodSpec, ReplicationController, Secret, Service } from '../../schemas/types.generated.ts';
import { KINDS, type KindName } from './kinds.ts';
import type { ManifestObject } from './types.ts';

export const DEFAULT_NAMESPACE = 'default';

export function applyDefaults(kind: KindName, object: ManifestObject): void {
  if (KINDS[kind].namespaced && !object.metadata.namespace) object.metadata.namespace = DEFAULT_NAMESPACE;
  switch (kind) {
    case 'Pod':
      defaultPodSpec((object as unknown as { spec: PodSpec }).spec);
      break;
    case 'Deployment': {
      const spec = (object as unknown as Deployment).spec;
      defaultPodSpec(spec.template.spec);
      const strategy = (spec.strategy ??= { type: 'RollingUpdate' });
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const rolling = (strategy.rollingUpdate ??= {});
        rolling.maxSurge ??= '25%';
        rolling.maxUnavailable ??= '25%';
      }
      break;
    }
    case 'ReplicaSet':
      defaultPodSpec((object as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec);
      break;
    case 'ReplicationController': {
      const spec = (object as unknown as ReplicationController).spec;
      defaultPodSpec(spec.template.spec);
      if (!spec.selector || Object.keys(spec.selector).length === 0) spec.selector = { ...(spec.template.metadata?.labels ?? {}) };
      break;
    }
    case 'DaemonSet': {
      const spec = (object as unknown as DaemonSet).spec;
      defaultPodSpec(spec.template.spec);
      const strategy = (spec.updateStrategy ??= { type: 'RollingUpdate' });
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const rolling = (strategy.rollingUpdate ??= {});
        rolling.maxUnavailable ??= 1;
        rolling.maxSurge ??= 0;
      }
      break;
    }
    case 'Service': {
      for (const port of (object as unknown as Service).spec.ports) port.targetPort ??= port.port;
      break;
    }
    case 'Secret': {
      // As the API server does: stringData is folded into data (base64), so readers look at data only.
      const secret = object as unknown as Secret;
      if (secret.stringData) {
        secret.data ??= {};
        for (const [key, value] of Object.entries(secret.stringData)) secret.data[key] = Buffer.from(value, 'utf8').toString('base64');
        delete secret.stringData;
      }
      break;
    }
  }
}

function defaultPodSpec(spec: PodSpec): void {
  for (const container of [...(spec.initContainers ?? []), ...spec.containers]) defaultContainer(container);
}

function defaultContainer(container: Container): void {
  container.imagePullPolicy ??= imageTag(container.image) === 'latest' ? 'Always' : 'IfNotPresent';
}

/** The tag of an image reference ("latest" when it has neither tag nor digest). */
export function imageTag(image: string): string {
  if (image.includes('@')) return image.slice(image.indexOf('@') + 1);
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon === -1 ? 'latest' : image.slice(colon + 1);
}
