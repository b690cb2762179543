/**
 * Validation against schemas/*.json with the validators ajv compiled ahead of
 * time (schemas/validators.generated.js, `npm run gen:types`): loading them
 * costs ~0.1 s where compiling costs ~2 s. Defaults written in the schemas are
 * applied while validating. ajv's errors are translated here into one
 * sentence per problem, anchored at a field path.
 */
import type { ErrorObject } from 'ajv';
import * as validators from '../../schemas/validators.generated.js';
import type { KindName } from './kinds.ts';
import { didYouMean } from './suggest.ts';
import type { FieldPath } from './yaml.ts';

/** A problem at a field: `which` says whether the key (unknown/unsupported field) or the value is at fault. */
export interface Problem {
  path: FieldPath;
  which: 'key' | 'value';
  message: string;
}

export interface SchemaResult {
  errors: Problem[];
  /** Fields accepted without effect here (each becomes a warning). */
  noEffect: Problem[];
}

const FIELD_CLASS = 'x-coxswain';

/** Validates (and defaults, in place) one object of a known kind. */
export function validateObject(kind: KindName, value: unknown): SchemaResult {
  const validate = validators[kind];
  const context = { noEffect: [] as string[] };
  const valid = validate.call(context, value);
  const noEffect = context.noEffect.map((pointer) => {
    const path = pointerToPath(value, pointer);
    return { path, which: 'key' as const, message: `${formatPath(path)}: accepted but has no effect in Coxswain` };
  });
  return { errors: valid ? [] : translate(value, validate.errors ?? []), noEffect };
}

/** JSON pointer -> field path, with numbers where the data holds an array. */
export function pointerToPath(root: unknown, pointer: string): FieldPath {
  if (pointer === '') return [];
  const path: FieldPath = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(segment);
      path.push(index);
      node = node[index];
    } else {
      path.push(segment);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

/** spec.template.spec.containers[0].image; metadata.labels["app.kubernetes.io/name"]. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out || '(document)';
}

function translate(root: unknown, errors: ErrorObject[]): Problem[] {
  // An anyOf failure stands for its branches' failures at the same place: say it once.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const covered = (e: ErrorObject) =>
    e.keyword !== 'anyOf' && anyOfs.some((a) => a.instancePath === e.instancePath && e.schemaPath.startsWith(`${a.schemaPath}/`));
  // "missing containerPort" next to "unknown field containerport (did you mean containerPort?)" says the same thing twice.
  const misspelt = new Set(
    errors
      .filter((e) => e.keyword === 'additionalProperties')
      .map((e) => {
        const known = Object.keys(((e.parentSchema ?? {}) as { properties?: object }).properties ?? {});
        return `${e.instancePath}/${didYouMean(String((e.params as { additionalProperty: unknown }).additionalProperty), known)}`;
      }),
  );
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (covered(error)) continue;
    if (error.keyword === 'required' && misspelt.has(`${error.instancePath}/${String((error.params as { missingProperty: unknown }).missingProperty)}`)) continue;
    const problem = describe(root, error);
    const key = `${problem.path.join('\u0000')}|${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describe(root: unknown, error: ErrorObject): Problem {
  const path = pointerToPath(root, error.instancePath);
  const at = (message: string, which: 'key' | 'value' = 'value', where: FieldPath = path): Problem => ({ path: where, which, message: where.length ? `${formatPath(where)}: ${message}` : message });
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = Object.keys((parent.properties as Record<string, unknown>) ?? {});
      const suggestion = didYouMean(field, known);
      return at(`unknown field${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`, 'key', [...path, field]);
    }
    case 'required':
      return at(`missing required field "${String(params.missingProperty)}"`, 'key', path.length ? path : []);
    case FIELD_CLASS: {
      const why = typeof parent.description === 'string' ? `: ${parent.description[0].toLowerCase()}${parent.description.slice(1).replace(/\.$/, '')}` : '';
      return at(`not supported by Coxswain${why}`, 'key');
    }
    case 'type':
      return at(`must be ${article(String(params.type))}, not ${describeValue(error.data)}`);
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const suggestion = typeof error.data === 'string' ? didYouMean(error.data, allowed.filter((v): v is string => typeof v === 'string' && v !== '')) : undefined;
      const list = allowed.filter((v) => v !== '').map((v) => JSON.stringify(v)).join(', ');
      return at(`must be one of ${list}, not ${describeValue(error.data)}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
    }
    case 'const':
      return at(`must be ${JSON.stringify(params.allowedValue)}, not ${describeValue(error.data)}`);
    case 'anyOf':
      return at(parent.title === 'Quantity'
        ? `must be a quantity such as 500m, 2, 128Mi or 1.5Gi, not ${describeValue(error.data)}`
        : parent.title === 'IntOrString'
          ? `must be a number or a name, not ${describeValue(error.data)}`
          : `is not valid: ${describeValue(error.data)}`);
    case 'minimum':
      return at(`must be at least ${String(params.limit)}, not ${describeValue(error.data)}`);
    case 'exclusiveMinimum':
      return at(`must be greater than ${String(params.limit)}, not ${describeValue(error.data)}`);
    case 'maximum':
      return at(`must be at most ${String(params.limit)}, not ${describeValue(error.data)}`);
    case 'minItems':
      return at(`must list at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`);
    case 'minLength':
      return at('must not be empty');
    case 'maxLength':
      return at(`must be at most ${String(params.limit)} characters long, not ${String(error.data).length}`);
    case 'pattern':
      return at(`${describeValue(error.data)} is not ${PATTERN_HINTS[String(params.pattern)] ?? `valid (expected to match ${String(params.pattern)})`}`);
    default:
      return at(error.message ?? `fails ${error.keyword}`);
  }
}

const PATTERN_HINTS: Record<string, string> = {
  '^/': 'an absolute path',
  '^[A-Za-z0-9+/]*={0,2}$': 'base64',
  '^[0-9]+-[0-9]+$': 'a port range such as 30000-32767',
};

function article(type: string): string {
  const names: Record<string, string> = { integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', object: 'a mapping', array: 'a list', null: 'null' };
  return type.split(',').map((t) => names[t] ?? t).join(' or ');
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === 'boolean') return String(value);
  return String(value);
}
