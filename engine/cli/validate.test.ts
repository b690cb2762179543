import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { main, type CommandIO } from './main.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

async function cox(args: string[], cwd = repoRoot): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), cwd, env: {} };
  const code = await main(['validate', ...args], io);
  return { code, stdout, stderr };
}

/** The real executable, as a user runs it (exit status and streams included). */
function coxBinary(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin', 'cox.mjs'), 'validate', ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const STACK_LINE = /^\s+at .+[:(]\d+/m;

describe('cox validate', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cox-validate-test-'));
    mkdirSync(path.join(dir, 'good'));
    mkdirSync(path.join(dir, 'good', '.github', 'workflows'), { recursive: true });
    writeFileSync(path.join(dir, 'good', '.github', 'workflows', 'ci.yml'), 'on: push\njobs: {}\n');
    writeFileSync(path.join(dir, 'good', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n');
    writeFileSync(path.join(dir, 'good', 'README.md'), '# not a manifest\n');
    mkdirSync(path.join(dir, 'bad'));
    writeFileSync(path.join(dir, 'bad', 'pod.yml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x:1}]\n  dnsPolicy: Default\n  hostIPC: true\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for examples-repo and says how many files and objects it read', async () => {
    const result = await cox(['examples-repo']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^4 files, 7 objects: 0 errors, 0 warnings\n$/);
  });

  it('validates the current directory when no path is given, skipping hidden directories and non-manifest files', async () => {
    const result = await cox([], path.join(dir, 'good'));
    assert.deepEqual([result.code, result.stdout], [0, '1 file, 1 object: 0 errors, 0 warnings\n']);
  });

  it('exits 1 with file:line:col: severity: message lines when there is an error, warnings included', async () => {
    const result = await cox(['bad'], dir);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, [
      'bad/pod.yml:6:3: warning: spec.dnsPolicy: accepted but has no effect in Coxswain',
      'bad/pod.yml:7:3: error: spec.hostIPC: not supported by Coxswain',
      '',
    ].join('\n'));
    assert.equal(result.stderr, '1 file, 0 objects: 1 error, 1 warning\n');
  });

  it('-o json prints the diagnostics as a JSON list a script can read', async () => {
    const result = await cox(['-o', 'json', 'bad'], dir);
    assert.equal(result.code, 1);
    assert.deepEqual(JSON.parse(result.stdout), [
      { file: 'bad/pod.yml', line: 6, column: 3, severity: 'warning', field: 'spec.dnsPolicy', message: 'spec.dnsPolicy: accepted but has no effect in Coxswain' },
      { file: 'bad/pod.yml', line: 7, column: 3, severity: 'error', field: 'spec.hostIPC', message: 'spec.hostIPC: not supported by Coxswain' },
    ]);
  });

  const usage: Array<[string, string[], RegExp]> = [
    ['a path that does not exist', ['no/such/dir'], /no\/such\/dir: no such file or directory/],
    ['an unknown flag', ['--frobnicate'], /Unknown option '--frobnicate'/],
    ['an unknown output format', ['-o', 'xml'], /-o xml: expected one of text, json/],
  ];
  for (const [name, args, message] of usage) {
    it(`exits 2 with one line for ${name}`, async () => {
      const result = await coxBinary(args, dir);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr + result.stdout, STACK_LINE);
    });
  }

  it('never prints a stack trace and always exits 0, 1 or 2, for random arguments and random file contents (fast-check)', async () => {
    const fuzzDir = path.join(dir, 'fuzz');
    mkdirSync(fuzzDir);
    const files = fc.array(fc.tuple(fc.constantFrom('a.yaml', 'b.yml', 'c.json', 'd/e.yaml', 'f.txt'), fc.oneof(fc.string({ maxLength: 200 }), fc.anything().map((v) => JSON.stringify(v) ?? ''))), { maxLength: 4 });
    const args = fc.array(fc.oneof(fc.constantFrom('-o', 'json', 'text', '.', 'd', 'a.yaml', 'f.txt', '--', '-h', '-x', '--output=json', ''), fc.string({ maxLength: 10 })), { maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(files, args, async (contents, argv) => {
        rmSync(fuzzDir, { recursive: true, force: true });
        mkdirSync(path.join(fuzzDir, 'd'), { recursive: true });
        for (const [name, text] of contents) writeFileSync(path.join(fuzzDir, name), text);
        const result = await cox(argv, fuzzDir);
        assert.ok([0, 1, 2].includes(result.code), `exit ${result.code}`);
        assert.doesNotMatch(result.stdout + result.stderr, STACK_LINE);
      }),
      { numRuns: 150 },
    );
  });
});
