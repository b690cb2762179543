/**
 * A container's security context as kubelet applies it, pure: the container's
 * fields override the pod's, and runAsNonRoot is verified against the user the
 * container will run as (its runAsUser, or else the image's configured user).
 */
import type { Container, PodSecurityContext, SecurityContext } from '../../schemas/types.generated.ts';
import type { DesiredPod } from '../../common/agent-api.ts';
import type { ContainerCreateBody } from '../runtime/types.ts';

export interface EffectiveSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
}

/** kubelet's DetermineEffectiveSecurityContext for the user fields. */
export function effectiveSecurityContext(pod: DesiredPod, container: Container): EffectiveSecurityContext {
  const p: PodSecurityContext = pod.spec.securityContext ?? {};
  const c: SecurityContext = container.securityContext ?? {};
  const out: EffectiveSecurityContext = {};
  const runAsUser = c.runAsUser ?? p.runAsUser;
  const runAsGroup = c.runAsGroup ?? p.runAsGroup;
  const runAsNonRoot = c.runAsNonRoot ?? p.runAsNonRoot;
  if (runAsUser !== undefined) out.runAsUser = runAsUser;
  if (runAsGroup !== undefined) out.runAsGroup = runAsGroup;
  if (runAsNonRoot !== undefined) out.runAsNonRoot = runAsNonRoot;
  return out;
}

/**
 * The image's Config.User as kubelet reads it: a numeric user is a uid, a name
 * is only a name; nothing at all means root.
 */
export function imageUser(user: string | undefined): { uid: number } | { name: string } {
  const name = (user ?? '').split(':')[0];
  if (name === '') return { uid: 0 };
  return /^\d+$/.test(name) ? { uid: Number(name) } : { name };
}

/** kubelet's verifyRunAsNonRoot: the reason a container may not start, or undefined. */
export function verifyRunAsNonRoot(pod: DesiredPod, container: Container, imageConfigUser: string | undefined): string | undefined {
  const sc = effectiveSecurityContext(pod, container);
  if (!sc.runAsNonRoot) return undefined;
  const where = `(pod: "${pod.name}_${pod.namespace}(${pod.uid})", container: ${container.name})`;
  if (sc.runAsUser !== undefined) return sc.runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined;
  const user = imageUser(imageConfigUser);
  if ('uid' in user) return user.uid === 0 ? `container has runAsNonRoot and image will run as root ${where}` : undefined;
  return `container has runAsNonRoot and image has non-numeric user (${user.name}), cannot verify user is non-root ${where}`;
}

/**
 * The create body fields of a container's security context. The image's user
 * is needed only for a runAsGroup without runAsUser: the group then applies to
 * the image's user (as CRI-O does it; Docker's User needs a user before ":").
 */
export function securityFields(pod: DesiredPod, container: Container, imageConfigUser: string | undefined): Pick<ContainerCreateBody, 'User'> & { HostConfig: Partial<ContainerCreateBody['HostConfig']> } {
  const sc = effectiveSecurityContext(pod, container);
  const c = container.securityContext ?? {};
  const out: Pick<ContainerCreateBody, 'User'> & { HostConfig: Partial<ContainerCreateBody['HostConfig']> } = { HostConfig: {} };
  if (sc.runAsUser !== undefined) out.User = sc.runAsGroup !== undefined ? `${sc.runAsUser}:${sc.runAsGroup}` : String(sc.runAsUser);
  else if (sc.runAsGroup !== undefined) out.User = `${(imageConfigUser ?? '').split(':')[0] || '0'}:${sc.runAsGroup}`;
  const groups = pod.spec.securityContext?.supplementalGroups ?? [];
  if (groups.length) out.HostConfig.GroupAdd = groups.map(String);
  if (c.privileged) out.HostConfig.Privileged = true;
  if (c.readOnlyRootFilesystem) out.HostConfig.ReadonlyRootfs = true;
  if (c.allowPrivilegeEscalation === false) out.HostConfig.SecurityOpt = ['no-new-privileges'];
  // Kubernetes names (NET_ADMIN, ALL) as written: Docker (20.10+) and Podman's compat API both take them with or without CAP_.
  if (c.capabilities?.add?.length) out.HostConfig.CapAdd = [...c.capabilities.add];
  if (c.capabilities?.drop?.length) out.HostConfig.CapDrop = [...c.capabilities.drop];
  return out;
}
