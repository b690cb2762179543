/**
 * A container's environment as Kubernetes builds it: the Services' variables
 * first, then envFrom, then env (later wins), with `$(VAR)` references
 * expanded against what came before. A missing ConfigMap/Secret key that is
 * not optional is a CreateContainerConfigError naming it.
 */
import type { Container } from '../../schemas/types.generated.ts';
import type { DesiredPod } from '../../common/agent-api.ts';

export class EnvError extends Error {}

export interface FieldContext {
  podIP?: string;
  hostIP?: string;
  nodeName?: string;
}

export function resolveEnv(pod: DesiredPod, container: Container, ctx: FieldContext): Record<string, string> {
  const env: Record<string, string> = {};
  if (pod.spec.enableServiceLinks !== false) Object.assign(env, pod.serviceEnv ?? {});
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const data = pod.configMaps?.[from.configMapRef.name];
      if (!data) { if (from.configMapRef.optional) continue; throw new EnvError(`configmap "${from.configMapRef.name}" not found`); }
      for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
    }
    if (from.secretRef) {
      const data = pod.secrets?.[from.secretRef.name];
      if (!data) { if (from.secretRef.optional) continue; throw new EnvError(`secret "${from.secretRef.name}" not found`); }
      for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expand(e.value ?? '', env);
      continue;
    }
    const v = valueFrom(pod, e.name, e.valueFrom, ctx);
    if (v !== undefined) env[e.name] = v;
  }
  return env;
}

function valueFrom(pod: DesiredPod, name: string, from: NonNullable<NonNullable<Container['env']>[number]['valueFrom']>, ctx: FieldContext): string | undefined {
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const v = pod.configMaps?.[ref.name]?.[ref.key];
    if (v === undefined && !ref.optional) throw new EnvError(`env ${name}: key "${ref.key}" of configmap "${ref.name}" not found`);
    return v;
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const v = pod.secrets?.[ref.name]?.[ref.key];
    if (v === undefined && !ref.optional) throw new EnvError(`env ${name}: key "${ref.key}" of secret "${ref.name}" not found`);
    return v;
  }
  if (from.fieldRef) return fieldValue(pod, from.fieldRef.fieldPath, ctx, name);
  throw new EnvError(`env ${name}: unsupported valueFrom ${Object.keys(from).join(', ')}`);
}

export function fieldValue(pod: DesiredPod, fieldPath: string, ctx: FieldContext, name = fieldPath): string {
  const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (label) return (label[1] === 'labels' ? pod.labels : pod.annotations)?.[label[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name': return pod.name;
    case 'metadata.namespace': return pod.namespace;
    case 'metadata.uid': return pod.uid;
    case 'spec.nodeName': return ctx.nodeName ?? pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP': return ctx.podIP ?? '';
    case 'status.hostIP': return ctx.hostIP ?? '';
    default: throw new EnvError(`env ${name}: unsupported fieldRef ${fieldPath}`);
  }
}

/** Kubernetes' `$(VAR)` expansion: known variables are replaced, `$$` escapes, unknown references stay as written. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && name in env ? env[name] : whole;
  });
}
