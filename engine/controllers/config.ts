/**
 * ConfigMap and Secret values a pod references (env, envFrom, volumes),
 * resolved here so the agent gets them with the pod, and hashed into the
 * template hash so a change to a ConfigMap rolls the Deployments that use it.
 * Also the `<NAME>_SERVICE_HOST/_PORT` variables Kubernetes injects.
 */
import type { PodSpec } from '../../schemas/types.generated.ts';
import type { ServiceObject } from '../model.ts';
import type { DesiredObjects } from './context.ts';

export interface References {
  configMaps: Map<string, boolean>;
  secrets: Map<string, boolean>;
}

/** Names of the ConfigMaps and Secrets a pod spec references, each with whether it is optional. */
export function references(spec: PodSpec): References {
  const configMaps = new Map<string, boolean>();
  const secrets = new Map<string, boolean>();
  const add = (map: Map<string, boolean>, name: string, optional: boolean | undefined) => map.set(name, (map.get(name) ?? true) && optional === true);
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) add(configMaps, e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.optional);
      if (e.valueFrom?.secretKeyRef) add(secrets, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.optional);
    }
    for (const e of c.envFrom ?? []) {
      if (e.configMapRef) add(configMaps, e.configMapRef.name, e.configMapRef.optional);
      if (e.secretRef) add(secrets, e.secretRef.name, e.secretRef.optional);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap) add(configMaps, v.configMap.name, v.configMap.optional);
    if (v.secret) add(secrets, v.secret.secretName, v.secret.optional);
  }
  return { configMaps, secrets };
}

export interface ResolvedConfig {
  configMaps: Record<string, Record<string, string>>;
  secrets: Record<string, Record<string, string>>;
  /** Sentences for required references that do not exist. */
  missing: string[];
}

const cache = new WeakMap<PodSpec, References>();

function cachedReferences(spec: PodSpec): References {
  let refs = cache.get(spec);
  if (!refs) cache.set(spec, (refs = references(spec)));
  return refs;
}

/** Whether a pod spec references any ConfigMap or Secret. */
export function hasReferences(spec: PodSpec): boolean {
  const refs = cachedReferences(spec);
  return refs.configMaps.size > 0 || refs.secrets.size > 0;
}

/** The referenced data (Secret values base64-decoded); missing required references are named. */
export function resolveConfig(desired: DesiredObjects, namespace: string, spec: PodSpec): ResolvedConfig {
  const refs = cachedReferences(spec);
  const out: ResolvedConfig = { configMaps: {}, secrets: {}, missing: [] };
  for (const [name, optional] of [...refs.configMaps].sort()) {
    const cm = desired.get('ConfigMap', namespace, name);
    if (cm) {
      const data: Record<string, string> = { ...(cm.data ?? {}) };
      for (const [k, v] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
      out.configMaps[name] = data;
    } else if (!optional) out.missing.push(`configmap "${namespace}/${name}" not found`);
  }
  for (const [name, optional] of [...refs.secrets].sort()) {
    const secret = desired.get('Secret', namespace, name);
    if (secret) {
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
      for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
      out.secrets[name] = data;
    } else if (!optional) out.missing.push(`secret "${namespace}/${name}" not found`);
  }
  return out;
}

/** The referenced objects' data as it goes into a template hash ("" when nothing is referenced). */
export function configDigest(desired: DesiredObjects, namespace: string, spec: PodSpec): unknown {
  const refs = cachedReferences(spec);
  if (refs.configMaps.size === 0 && refs.secrets.size === 0) return '';
  const parts: unknown[] = [];
  for (const name of [...refs.configMaps.keys()].sort()) {
    const cm = desired.get('ConfigMap', namespace, name);
    parts.push(['ConfigMap', name, cm?.data ?? null, cm?.binaryData ?? null]);
  }
  for (const name of [...refs.secrets.keys()].sort()) {
    const secret = desired.get('Secret', namespace, name);
    parts.push(['Secret', name, secret?.data ?? null, secret?.stringData ?? null]);
  }
  return parts;
}

function envName(service: string): string {
  return service.toUpperCase().replace(/-/g, '_');
}

/**
 * Service environment variables as Kubernetes injects them, for the
 * services of the pod's namespace that existed when the pod was created
 * (variables never change under a running pod).
 */
export function serviceEnv(services: Iterable<ServiceObject>, namespace: string, podCreated: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const list = [...services].filter((s) => s.metadata.namespace === namespace && s.spec.clusterIP && s.spec.clusterIP !== 'None');
  list.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  for (const s of list) {
    if (podCreated && s.metadata.creationTimestamp && s.metadata.creationTimestamp > podCreated) continue;
    const name = envName(s.metadata.name);
    const ip = s.spec.clusterIP;
    const first = s.spec.ports[0];
    if (!first) continue;
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(first.port);
    const proto = first.protocol.toLowerCase();
    env[`${name}_PORT`] = `${proto}://${ip}:${first.port}`;
    for (const p of s.spec.ports) {
      if (p.name) env[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
      const prefix = `${name}_PORT_${p.port}_${p.protocol}`;
      env[prefix] = `${p.protocol.toLowerCase()}://${ip}:${p.port}`;
      env[`${prefix}_PROTO`] = p.protocol.toLowerCase();
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = ip;
    }
  }
  return env;
}
