/**
 * Pod volumes on the host. emptyDir is a directory per pod, or with
 * `medium: Memory` a tmpfs of its own sized as Kubernetes sizes it (the
 * smaller of sizeLimit and the pod's memory limit; without either, the
 * kernel's default); configMap and secret volumes are files on a tmpfs of the
 * pod's own (secrets mode 0400 by default), so secret values never reach a
 * disk; hostPath is the host's path as is (the engine's policy decided it may
 * be used).
 * planVolumes is pure: it returns what to create; applyVolumes does it.
 */
import { mkdir, readFile, rm, writeFile, chmod, rename } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import type { Container } from '../../schemas/types.generated.ts';
import type { DesiredPod } from '../../common/agent-api.ts';
import { bytes } from '../../common/quantity.ts';

const run = promisify(execFile);

export interface VolumeFile {
  path: string;
  content: string;
  mode: number;
}

export interface VolumePlan {
  podDir: string;
  /** Directories to create (emptyDir), on disk. */
  dirs: string[];
  /** Where the pod's tmpfs is mounted, when it has configMap/secret volumes. */
  tmpfs?: string;
  /** emptyDir volumes with medium Memory: a tmpfs each, of `sizeBytes` when known. */
  memoryDirs: { path: string; sizeBytes?: number }[];
  files: VolumeFile[];
  /** Host source directory of each volume, by volume name. */
  sources: Record<string, string>;
  /** A reason the pod cannot start (CreateContainerConfigError), e.g. a missing secret. */
  error?: string;
}

export function podDir(stateDir: string, uid: string): string {
  return path.join(stateDir, 'pods', uid);
}

export function planVolumes(pod: DesiredPod, stateDir: string): VolumePlan {
  const dir = podDir(stateDir, pod.uid);
  const plan: VolumePlan = { podDir: dir, dirs: [], files: [], sources: {}, memoryDirs: [] };
  const tmpfs = path.join(dir, 'tmpfs');
  for (const v of pod.spec.volumes ?? []) {
    if (v.emptyDir !== undefined) {
      const d = path.join(dir, 'volumes', 'empty-dir', v.name);
      plan.dirs.push(d);
      plan.sources[v.name] = d;
      if (v.emptyDir.medium === 'Memory') {
        const sizes = [v.emptyDir.sizeLimit !== undefined ? bytes(v.emptyDir.sizeLimit) : undefined, podMemoryLimit(pod)].filter((n): n is number => n !== undefined && n > 0);
        plan.memoryDirs.push({ path: d, ...(sizes.length ? { sizeBytes: Math.min(...sizes) } : {}) });
      }
    } else if (v.hostPath) {
      plan.sources[v.name] = v.hostPath.path;
    } else if (v.configMap || v.secret) {
      const isSecret = v.secret !== undefined;
      const refName = (isSecret ? v.secret!.secretName : v.configMap!.name) ?? '';
      const data = isSecret ? pod.secrets?.[refName] : pod.configMaps?.[refName];
      const optional = (isSecret ? v.secret!.optional : v.configMap!.optional) ?? false;
      const defaultMode = (isSecret ? v.secret!.defaultMode : v.configMap!.defaultMode) ?? (isSecret ? 0o400 : 0o644);
      const items = (isSecret ? v.secret!.items : v.configMap!.items) ?? undefined;
      const vdir = path.join(tmpfs, v.name);
      plan.tmpfs = tmpfs;
      plan.sources[v.name] = vdir;
      plan.dirs.push(vdir);
      if (!data) {
        if (!optional) plan.error ??= `${isSecret ? 'secret' : 'configmap'} "${refName}" not found (volume ${v.name})`;
        continue;
      }
      const entries = items ? items.map((i) => ({ key: i.key, file: i.path, mode: i.mode ?? defaultMode })) : Object.keys(data).sort().map((k) => ({ key: k, file: k, mode: defaultMode }));
      for (const e of entries) {
        if (!(e.key in data)) { if (!optional) plan.error ??= `key "${e.key}" of ${isSecret ? 'secret' : 'configmap'} "${refName}" not found (volume ${v.name})`; continue; }
        if (e.file.split('/').includes('..') || path.isAbsolute(e.file)) { plan.error ??= `volume ${v.name}: item path "${e.file}" escapes the volume`; continue; }
        plan.files.push({ path: path.join(vdir, e.file), content: data[e.key], mode: e.mode });
      }
    } else {
      plan.error ??= `volume ${v.name}: unsupported volume source ${Object.keys(v).filter((k) => k !== 'name').join(', ')}`;
    }
  }
  return plan;
}

/**
 * The pod's memory limit as kubelet sets its cgroup: the sum of the app
 * containers' limits (or the largest init container's, if larger), and none
 * unless every container has one.
 */
export function podMemoryLimit(pod: DesiredPod): number | undefined {
  const limit = (c: Container) => (c.resources?.limits?.memory !== undefined ? bytes(c.resources.limits.memory) : undefined);
  const apps = pod.spec.containers.map(limit);
  const inits = (pod.spec.initContainers ?? []).map(limit);
  if ([...apps, ...inits].some((l) => l === undefined)) return undefined;
  return Math.max((apps as number[]).reduce((a, b) => a + b, 0), ...(inits as number[]));
}

/** Docker `Binds` for a container's volumeMounts. */
export function bindsFor(container: Container, plan: VolumePlan): string[] {
  return (container.volumeMounts ?? []).map((m) => {
    const src = plan.sources[m.name];
    const from = m.subPath ? path.join(src ?? '', m.subPath) : src;
    return `${from}:${m.mountPath}${m.readOnly ? ':ro' : ''}`;
  });
}

export async function applyVolumes(plan: VolumePlan): Promise<void> {
  await mkdir(plan.podDir, { recursive: true, mode: 0o700 });
  if (plan.tmpfs) await ensureTmpfs(plan.tmpfs);
  for (const d of plan.dirs) await mkdir(d, { recursive: true, mode: 0o777 });
  for (const m of plan.memoryDirs) await ensureTmpfs(m.path, `mode=0777${m.sizeBytes !== undefined ? `,size=${m.sizeBytes}` : ''}`);
  for (const f of plan.files) {
    await mkdir(path.dirname(f.path), { recursive: true });
    const same = await readFile(f.path, 'utf8').then((t) => t === f.content, () => false);
    if (same) { await chmod(f.path, f.mode); continue; }
    const tmp = `${f.path}.tmp`;
    await writeFile(tmp, f.content, { mode: f.mode });
    await chmod(tmp, f.mode);
    await rename(tmp, f.path);
  }
}

async function ensureTmpfs(dir: string, options = 'mode=0755,size=16m'): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await mountPoints()).includes(dir)) return;
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
}

/** Mount points of this mount namespace (octal escapes of /proc/self/mounts decoded). */
async function mountPoints(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return mounts.split('\n').filter(Boolean).map((l) => l.split(' ')[1].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** Unmounts the pod's tmpfs mounts (deepest first) and removes its directory. */
export async function removePodDir(stateDir: string, uid: string): Promise<void> {
  const dir = podDir(stateDir, uid);
  const inside = (await mountPoints()).filter((m) => m.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
  for (const m of inside) await run('umount', [m]).catch(() => run('umount', ['-l', m]));
  await rm(dir, { recursive: true, force: true });
}
