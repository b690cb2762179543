import assert from 'node:assert/strict';
import type { Container, PodSecurityContext } from '../../schemas/types.generated.ts';
import { effectiveSecurityContext, imageUser, verifyRunAsNonRoot } from './security-context.ts';
import { podWith } from './testing.ts';

const podWithSecurity = (pod: PodSecurityContext | undefined, container: Container['securityContext']) =>
  podWith({ ...(pod ? { securityContext: pod } : {}), containers: [{ name: 'app', image: 'coxswain/busybox:1', ...(container ? { securityContext: container } : {}) }] });

describe('security contexts as kubelet applies them', () => {
  it('lets the container\'s runAsUser, runAsGroup and runAsNonRoot override the pod\'s, field by field', () => {
    const pod = podWithSecurity({ runAsUser: 2000, runAsGroup: 2000, runAsNonRoot: true }, { runAsUser: 1000, runAsNonRoot: false });
    assert.deepEqual(effectiveSecurityContext(pod, pod.spec.containers[0]), { runAsUser: 1000, runAsGroup: 2000, runAsNonRoot: false });
  });

  it('reads an image user as kubelet does: empty is root, a number a uid, anything else a name', () => {
    assert.deepEqual([imageUser(undefined), imageUser(''), imageUser('1000'), imageUser('1000:50'), imageUser('nobody'), imageUser('www:www')],
      [{ uid: 0 }, { uid: 0 }, { uid: 1000 }, { uid: 1000 }, { name: 'nobody' }, { name: 'www' }]);
  });

  const where = '(pod: "web_default(uid-0001-abcdef)", container: app)';
  const cases: { name: string; pod?: PodSecurityContext; container?: Container['securityContext']; image: string; error: string | undefined }[] = [
    { name: 'without runAsNonRoot anything runs, root included', container: { runAsUser: 0 }, image: '', error: undefined },
    { name: 'runAsNonRoot with an image that runs as root (no user) is refused', container: { runAsNonRoot: true }, image: '', error: `container has runAsNonRoot and image will run as root ${where}` },
    { name: 'runAsNonRoot with an image user 0:0 is refused', container: { runAsNonRoot: true }, image: '0:0', error: `container has runAsNonRoot and image will run as root ${where}` },
    { name: 'runAsNonRoot with a numeric non-root image user runs', container: { runAsNonRoot: true }, image: '1000', error: undefined },
    { name: 'runAsNonRoot with a named image user cannot be verified', container: { runAsNonRoot: true }, image: 'nobody', error: `container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root ${where}` },
    { name: 'a pod-level runAsNonRoot applies to the container', pod: { runAsNonRoot: true }, image: '', error: `container has runAsNonRoot and image will run as root ${where}` },
    { name: 'a runAsUser other than 0 satisfies runAsNonRoot whatever the image', pod: { runAsNonRoot: true, runAsUser: 1000 }, image: 'nobody', error: undefined },
    { name: 'runAsUser 0 breaks runAsNonRoot', pod: { runAsNonRoot: true }, container: { runAsUser: 0 }, image: '1000', error: `container's runAsUser breaks non-root policy ${where}` },
    { name: 'a container runAsNonRoot false overrides the pod\'s true', pod: { runAsNonRoot: true }, container: { runAsNonRoot: false }, image: '', error: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const pod = podWithSecurity(c.pod, c.container);
      assert.equal(verifyRunAsNonRoot(pod, pod.spec.containers[0], c.image), c.error);
    });
  }
});
