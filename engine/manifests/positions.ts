/**
 * Where each loaded object came from. The loader registers every object it
 * returns; anything holding the object can ask for the position of any of its
 * fields, which is how later stages (cross-object checks, controllers, plans)
 * report problems at a line and column.
 */
import type { FieldPath, Position } from './yaml.ts';

interface Origin {
  file: string;
  /** The object's own path inside its document (["items", 3] inside a List). */
  base: FieldPath;
  locate: (path: FieldPath, which?: 'key' | 'value') => Position;
}

const origins = new WeakMap<object, Origin>();

export function registerOrigin(object: object, origin: Origin): void {
  origins.set(object, origin);
}

/** Where an object starts in its file; undefined for objects the loader did not produce. */
export function sourceOf(object: object): { file: string; line: number; column: number } | undefined {
  const origin = origins.get(object);
  if (!origin) return undefined;
  return { file: origin.file, ...origin.locate(origin.base) };
}

/** Where a field of a loaded object is (its key with which = 'key'); the nearest existing parent when the field is absent. */
export function positionOf(object: object, path: FieldPath, which: 'key' | 'value' = 'value'): { file: string; line: number; column: number } | undefined {
  const origin = origins.get(object);
  if (!origin) return undefined;
  return { file: origin.file, ...origin.locate([...origin.base, ...path], which) };
}
