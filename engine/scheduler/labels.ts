/** Label and node selectors with Kubernetes semantics. */
import type { LabelSelector } from '../../schemas/types.generated.ts';

export type Labels = Record<string, string>;

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

export function matchesRequirement(labels: Labels, r: Requirement): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case 'In':
      return has && (r.values ?? []).includes(value);
    case 'NotIn':
      return !has || !(r.values ?? []).includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
      return has && Number(value) > Number((r.values ?? [])[0]);
    case 'Lt':
      return has && Number(value) < Number((r.values ?? [])[0]);
    default:
      return false;
  }
}

/** A LabelSelector; an empty selector matches everything, a missing one nothing. */
export function matchesSelector(labels: Labels | undefined, selector: LabelSelector | undefined | null): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of (selector.matchExpressions ?? []) as Requirement[]) if (!matchesRequirement(l, r)) return false;
  return true;
}

/** A plain map selector (Service, ReplicationController, nodeSelector): every pair must match. */
export function matchesMap(labels: Labels | undefined, selector: Labels | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const k in selector) if (l[k] !== selector[k]) return false;
  return true;
}

export interface NodeSelectorTerm {
  matchExpressions?: Requirement[];
  matchFields?: Requirement[];
}

/** One NodeSelectorTerm: all its expressions must hold (an empty term matches nothing, as in Kubernetes). */
export function matchesNodeSelectorTerm(nodeName: string, labels: Labels, term: NodeSelectorTerm): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const r of exprs) if (!matchesRequirement(labels, r)) return false;
  for (const r of fields) if (!matchesRequirement({ 'metadata.name': nodeName }, r)) return false;
  return true;
}

/** A selector's pairs as "key=value" strings (for the label index). */
export function selectorPairs(selector: LabelSelector | undefined | null): string[] {
  return Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
}
