import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { loadManifests, type Diagnostic } from './index.ts';

const validDir = path.join(import.meta.dirname, 'testdata', 'valid');
const validDocuments: unknown[] = readdirSync(validDir)
  .filter((name) => name.endsWith('.yaml'))
  .flatMap((name) => readFileSync(path.join(validDir, name), 'utf8').split(/^---$/m).map((doc) => parse(doc) as unknown))
  .filter((doc) => doc && typeof doc === 'object');

/** Every diagnostic names the file and a real position, and is one non-empty sentence. */
function assertWellFormed(text: string, diagnostics: Diagnostic[], file: string): void {
  const lines = text.split('\n').length;
  for (const d of diagnostics) {
    assert.equal(d.file, file);
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines + 1, `line ${d.line} of ${lines}`);
    assert.ok(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`);
    assert.ok(d.severity === 'error' || d.severity === 'warning');
    assert.ok(typeof d.message === 'string' && d.message.length > 0 && !d.message.includes('\n'), `message ${JSON.stringify(d.message)}`);
  }
}

function loadNeverThrows(text: string): void {
  const file = 'fuzz.yaml';
  const result = loadManifests([{ path: file, text }]);
  assertWellFormed(text, result.diagnostics, file);
  for (const object of result.store.all()) assert.equal(typeof object.metadata.name, 'string');
}

type Mutation = { path: number[]; op: 'delete' | 'replace' | 'rename' | 'wrap'; value: unknown; key: string };

/** Applies one mutation at a position chosen by walking the object with the given indexes. */
function mutate(document: unknown, mutation: Mutation): unknown {
  const root = structuredClone(document) as Record<string, unknown>;
  let parent: Record<string, unknown> | unknown[] = root;
  let key: string | number | undefined;
  for (const index of mutation.path) {
    const node: unknown = key === undefined ? root : (parent as Record<string | number, unknown>)[key];
    if (!node || typeof node !== 'object') break;
    const keys: Array<string | number> = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    if (key !== undefined) parent = node as Record<string, unknown>;
    key = keys[index % keys.length];
  }
  if (key === undefined) return mutation.value;
  const target = parent as Record<string | number, unknown>;
  switch (mutation.op) {
    case 'delete':
      if (Array.isArray(target)) target.splice(Number(key), 1);
      else delete target[key];
      break;
    case 'replace':
      target[key] = mutation.value;
      break;
    case 'rename':
      if (!Array.isArray(target)) {
        target[mutation.key] = target[key];
        delete target[key];
      }
      break;
    case 'wrap':
      target[key] = [target[key]];
      break;
  }
  return root;
}

const yamlFragments = fc.constantFrom('---\n', ': ', '- ', '{', '}', '[', ']', '&a ', '*a', '!!binary ', '!!int ', '\t', '"', "'", '\n', '  ', '#', '? ', '|\n', '>-\n', 'kind: List\n', 'kind: Deployment\n', 'apiVersion: v1\n', 'items:\n', '<<: *a\n', '%YAML 1.2\n', '\u0000', '\uFEFF', '0644', '~', 'null');

describe('manifests: property-based (fast-check)', function () {
  this.timeout(120_000);

  it('random text, random YAML fragments and random values as YAML or JSON always end in a result or positioned errors, never an exception', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.array(fc.oneof(yamlFragments, fc.string({ maxLength: 8 })), { maxLength: 60 }).map((parts) => parts.join('')),
      fc.anything().map((value) => stringify(value ?? null)),
      fc.jsonValue().map((value) => JSON.stringify(value)),
    );
    fc.assert(fc.property(text, loadNeverThrows), { numRuns: 400 });
  });

  it('random mutations of valid manifests (fields deleted, replaced with anything, renamed, wrapped in a list) never throw and never lose positions', () => {
    const mutation = fc.record({
      path: fc.array(fc.nat(50), { maxLength: 8 }),
      op: fc.constantFrom('delete', 'replace', 'rename', 'wrap'),
      value: fc.oneof(fc.anything({ maxDepth: 3 }), fc.constantFrom('', 'None', '500m', '1.5Gi', -1, 0, 70000, 'http', '25%', null, true, [], {})),
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('replcas', 'containerport', 'persistentVolumeClaim', 'dnsPolicy', 'hostPath', 'kind', 'items', '__proto__', 'constructor')),
    }) as fc.Arbitrary<Mutation>;
    const subject = fc.tuple(fc.constantFrom(...validDocuments), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean());
    fc.assert(
      fc.property(subject, ([document, mutations, asJson]) => {
        const mutated = mutations.reduce((doc, m) => mutate(doc, m), document);
        loadNeverThrows(asJson ? JSON.stringify(mutated) ?? 'null' : stringify(mutated ?? null));
      }),
      { numRuns: 600 },
    );
  });

  it('deep nesting and alias bombs end in positioned errors, not a crash, and leave the loader working', () => {
    for (const text of ['['.repeat(20_000), `${'- '.repeat(5_000)}x`, `${'  '.repeat(100)}${'- '.repeat(100)}[[[[{${'['.repeat(100)}`, 'a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d]\n']) {
      const result = loadManifests([{ path: 'deep.yaml', text }]);
      assertWellFormed(text, result.diagnostics, 'deep.yaml');
      assert.ok(result.diagnostics.some((d) => d.severity === 'error'));
    }
    const valid = readFileSync(path.join(validDir, 'deployment-full.yaml'), 'utf8');
    assert.deepEqual(loadManifests([{ path: 'deployment-full.yaml', text: valid }]).diagnostics, []);
  });
});
