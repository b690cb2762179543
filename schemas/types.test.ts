import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { generateTypes, generateValidators, generatedPath, validatorsPath, validatorsTypesPath } from '../scripts/gen-types.ts';

describe('schemas/types.generated.ts', () => {
  it('is exactly what `npm run gen:types` produces from the current schemas (run it after editing a schema)', async function () {
    this.timeout(30_000);
    const committed = await readFile(generatedPath, 'utf8');
    const fresh = await generateTypes();
    assert.ok(committed === fresh, 'schemas/types.generated.ts is stale: run `npm run gen:types` and commit the result');
  });

  it('schemas/validators.generated.js and its .d.ts are exactly what `npm run gen:types` compiles from the current schemas', async function () {
    this.timeout(60_000);
    const fresh = await generateValidators();
    assert.ok((await readFile(validatorsPath, 'utf8')) === fresh.code, 'schemas/validators.generated.js is stale: run `npm run gen:types` and commit the result');
    assert.ok((await readFile(validatorsTypesPath, 'utf8')) === fresh.types, 'schemas/validators.generated.d.ts is stale: run `npm run gen:types` and commit the result');
  });

  const required = ['Pod', 'PodSpec', 'Container', 'Probe', 'Volume', 'EnvVar', 'Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'Service', 'ServicePort', 'Namespace', 'ConfigMap', 'Secret', 'Node', 'Cluster', 'ObjectMeta', 'LabelSelector', 'Toleration', 'Taint', 'Affinity', 'ResourceRequirements'];
  for (const name of required) {
    it(`declares the type ${name} exactly once, under that exact name`, async () => {
      const text = await readFile(generatedPath, 'utf8');
      const declarations = text.match(new RegExp(`^export (interface|type) ${name}\\b`, 'gm')) ?? [];
      assert.equal(declarations.length, 1);
      assert.ok(!new RegExp(`^export (interface|type) ${name}1\\b`, 'm').test(text), `${name}1 exists: a shared shape is declared twice`);
    });
  }
});
