/** The template hash: over the pod template and the ConfigMap/Secret data it references. */
import type { PodTemplateSpec } from '../../schemas/types.generated.ts';
import type { DesiredObjects } from './context.ts';
import { configDigest } from './config.ts';
import { canonicalJson, safeHash } from './hash.ts';

const plain = new WeakMap<PodTemplateSpec, string>();
const withConfig = new WeakMap<PodTemplateSpec, { digest: string; hash: string }>();

export function templateHash(desired: DesiredObjects, namespace: string, template: PodTemplateSpec): string {
  const digest = configDigest(desired, namespace, template.spec);
  if (digest === '') {
    let hash = plain.get(template);
    if (!hash) plain.set(template, (hash = safeHash(canonicalJson(template))));
    return hash;
  }
  const digestJson = canonicalJson(digest);
  const cached = withConfig.get(template);
  if (cached && cached.digest === digestJson) return cached.hash;
  const hash = safeHash(`${canonicalJson(template)}\n${digestJson}`);
  withConfig.set(template, { digest: digestJson, hash });
  return hash;
}
