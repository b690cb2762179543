/**
 * One file -> its objects and diagnostics: YAML documents (a `kind: List`
 * unrolled), the kind's schema (with defaults), the field classes, dependent
 * defaults and the checks of each object on its own. Pure: the same text
 * always gives the same result, so callers may cache by content.
 */
import { checkObject } from './checks/object.ts';
import { applyDefaults } from './defaults.ts';
import { IGNORED_KINDS, isKnownKind, KINDS, UNSUPPORTED_KINDS } from './kinds.ts';
import { registerOrigin } from './positions.ts';
import { formatPath, validateObject } from './schema.ts';
import { didYouMean } from './suggest.ts';
import type { Diagnostic, ManifestObject, SourceFile } from './types.ts';
import { parseYamlDocuments, type FieldPath, type ParsedDocument } from './yaml.ts';

export interface ParseResult {
  /** Objects that passed their schema (possibly with warnings or object-level errors), validated and defaulted. */
  objects: ManifestObject[];
  diagnostics: Diagnostic[];
}

export function parseManifestFile(file: SourceFile): ParseResult {
  const result: ParseResult = { objects: [], diagnostics: [] };
  try {
    for (const doc of parseYamlDocuments(file.text)) {
      for (const error of doc.errors) {
        result.diagnostics.push({ file: file.path, line: error.line, column: error.column, severity: 'error', message: `invalid YAML: ${error.message}` });
      }
      if (doc.errors.length === 0 && doc.value !== undefined && doc.value !== null) readDocument(file, doc, doc.value, [], result);
    }
  } catch (err) {
    // Pathological input (e.g. nesting deep enough to exhaust the stack) ends here, never as a crash.
    result.objects = [];
    result.diagnostics.push({ file: file.path, line: 1, column: 1, severity: 'error', message: `could not be read: ${err instanceof Error ? err.message : String(err)}` });
  }
  return result;
}

function readDocument(file: SourceFile, doc: ParsedDocument, value: unknown, base: FieldPath, result: ParseResult): void {
  const report = (severity: Diagnostic['severity'], path: FieldPath, which: 'key' | 'value', message: string, field?: string) => {
    const position = doc.locate([...base, ...path], which);
    result.diagnostics.push({ file: file.path, ...position, severity, ...(field !== undefined ? { field } : {}), message });
  };
  const prefix = base.length ? `${formatPath(base)}: ` : '';
  if (!isPlainObject(value)) {
    report('error', [], 'value', `${prefix}a manifest must be a mapping with apiVersion, kind and metadata, not ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`);
    return;
  }
  const { kind, apiVersion } = value;
  if (kind === undefined) {
    report('error', [], 'value', `${prefix}missing required field "kind"`);
    return;
  }
  if (typeof kind !== 'string') {
    report('error', ['kind'], 'value', 'kind: must be a string');
    return;
  }
  if (kind === 'List' && base.length === 0) {
    readList(file, doc, value, result, report);
    return;
  }
  if (Object.hasOwn(IGNORED_KINDS, kind)) {
    report('warning', ['kind'], 'value', `kind: ${kind} is ignored: ${IGNORED_KINDS[kind]}`, 'kind');
    return;
  }
  if (Object.hasOwn(UNSUPPORTED_KINDS, kind)) {
    report('error', ['kind'], 'value', `kind: ${kind} is not supported by Coxswain (${UNSUPPORTED_KINDS[kind]})`, 'kind');
    return;
  }
  if (!isKnownKind(kind)) {
    const suggestion = didYouMean(kind, Object.keys(KINDS));
    report('error', ['kind'], 'value', `kind: unknown kind "${kind}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; supported: ${Object.keys(KINDS).join(', ')}`, 'kind');
    return;
  }
  const expectedApi = KINDS[kind].apiVersion;
  const wrongApi = apiVersion !== expectedApi;
  if (wrongApi) {
    const got = apiVersion === undefined ? 'missing' : `not ${JSON.stringify(apiVersion)}`;
    report('error', apiVersion === undefined ? [] : ['apiVersion'], 'value', `apiVersion: must be "${expectedApi}" for a ${kind}, ${got}`, 'apiVersion');
  }
  const checked = validateObject(kind, value);
  const fieldOf = (path: FieldPath) => (path.length ? formatPath(path) : undefined);
  for (const problem of checked.noEffect) report('warning', problem.path, problem.which, problem.message, fieldOf(problem.path));
  const errors = checked.errors.filter((problem) => !(wrongApi && problem.path[0] === 'apiVersion'));
  for (const problem of errors) report('error', problem.path, problem.which, problem.message, fieldOf(problem.path));
  if (errors.length > 0 || wrongApi) return;
  const object = value as ManifestObject;
  applyDefaults(kind, object);
  for (const finding of checkObject(kind, object)) report(finding.severity, finding.path, finding.which, finding.message, fieldOf(finding.path));
  registerOrigin(object, { file: file.path, base, locate: doc.locate });
  result.objects.push(object);
}

function readList(
  file: SourceFile,
  doc: ParsedDocument,
  list: Record<string, unknown>,
  result: ParseResult,
  report: (severity: Diagnostic['severity'], path: FieldPath, which: 'key' | 'value', message: string, field?: string) => void,
): void {
  if (list.apiVersion !== 'v1') report('error', ['apiVersion'], 'value', `apiVersion: must be "v1" for a List, not ${JSON.stringify(list.apiVersion)}`, 'apiVersion');
  for (const key of Object.keys(list)) {
    if (!['apiVersion', 'kind', 'items', 'metadata'].includes(key)) report('error', [key], 'key', `${key}: unknown field of a List`, key);
  }
  if (!Array.isArray(list.items)) {
    report('error', list.items === undefined ? [] : ['items'], 'value', 'items: a List needs a list of items');
    return;
  }
  list.items.forEach((item, i) => {
    if (isPlainObject(item) && item.kind === 'List') report('error', ['items', i, 'kind'], 'value', `items[${i}].kind: a List may not contain a List`);
    else readDocument(file, doc, item, ['items', i], result);
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
