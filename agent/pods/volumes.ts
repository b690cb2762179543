/**
 * Pod volumes on the host. emptyDir is a directory per pod; configMap and
 * secret volumes are files on a tmpfs of the pod's own (secrets mode 0400 by
 * default), so secret values never reach a disk; hostPath is the host's path
 * as is (the engine's policy decided it may be used).
 * planVolumes is pure: it returns what to create; applyVolumes does it.
 */
import { mkdir, readFile, rm, writeFile, chmod, rename } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import type { Container } from '../../schemas/types.generated.ts';
import type { DesiredPod } from '../../common/agent-api.ts';

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
  const plan: VolumePlan = { podDir: dir, dirs: [], files: [], sources: {} };
  const tmpfs = path.join(dir, 'tmpfs');
  for (const v of pod.spec.volumes ?? []) {
    if (v.emptyDir !== undefined) {
      const d = path.join(dir, 'volumes', 'empty-dir', v.name);
      plan.dirs.push(d);
      plan.sources[v.name] = d;
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

async function ensureTmpfs(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  if (mounts.split('\n').some((l) => l.split(' ')[1] === dir)) return;
  await run('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=16m', 'tmpfs', dir]);
}

/** Unmounts the pod's tmpfs and removes its directory. */
export async function removePodDir(stateDir: string, uid: string): Promise<void> {
  const dir = podDir(stateDir, uid);
  const tmpfs = path.join(dir, 'tmpfs');
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  if (mounts.split('\n').some((l) => l.split(' ')[1] === tmpfs)) await run('umount', [tmpfs]).catch(() => run('umount', ['-l', tmpfs]));
  await rm(dir, { recursive: true, force: true });
}
