/**
 * `npm run bench -- --only validate`
 *
 * 10,000 generated manifests (Deployments with probes and resources,
 * Services, ConfigMaps, Pods; one per file, 100 namespaces) written to a temp
 * directory, then read from disk and validated cold: each run is a fresh
 * process with no parse cache (figure `manifestsPerSecond`, target >= 5,000,
 * timed from the first file read to the last diagnostic). The same section's
 * CPU time is reported too (`manifestsPerSecondCpu`), with the load average:
 * on a machine shared by many, wall time mostly measures the neighbours. Also reported: the
 * whole `cox validate DIR` wall time including process start, and loading the
 * ahead-of-time compiled validators next to compiling the same schemas with
 * ajv at run time (the reason validators.generated.js exists).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './run.ts';

const MANIFESTS = 10_000;
const RUNS = 3;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

export function manifest(i: number): string {
  const ns = `team-${Math.floor(i / 4) % 100}`;
  const app = `app-${Math.floor(i / 4)}`;
  switch (i % 4) {
    case 0:
    case 1:
      return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}-${i % 4}
  namespace: ${ns}
  labels: {app: ${app}, tier: "${i % 4}"}
spec:
  replicas: ${1 + (i % 5)}
  selector:
    matchLabels: {app: ${app}, tier: "${i % 4}"}
  template:
    metadata:
      labels: {app: ${app}, tier: "${i % 4}"}
    spec:
      containers:
        - name: main
          image: registry.example.com/${app}:${i % 7}.0
          ports:
            - {name: http, containerPort: 8080}
          env:
            - {name: MODE, value: production}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
          resources:
            requests: {cpu: ${50 + (i % 200)}m, memory: ${64 + (i % 64)}Mi}
            limits: {memory: 1Gi}
`;
    case 2:
      return `apiVersion: v1
kind: Service
metadata:
  name: ${app}
  namespace: ${ns}
spec:
  selector: {app: ${app}, tier: "0"}
  ports:
    - {name: http, port: 80, targetPort: http}
`;
    default:
      return i % 8 === 3
        ? `apiVersion: v1
kind: ConfigMap
metadata: {name: ${app}-config, namespace: ${ns}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
`
        : `apiVersion: v1
kind: Pod
metadata: {name: ${app}-job, namespace: ${ns}, labels: {app: ${app}-job}}
spec:
  restartPolicy: OnFailure
  containers:
    - {name: job, image: "coxswain/busybox:1", command: [sh, -c, "echo ${i}"]}
`;
  }
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string; ms: number; code: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, ms: performance.now() - start, code: error ? Number((error as { code?: unknown }).code ?? 1) : 0 });
    });
  });
}

/** In the child: load the loader, then time reading and validating the directory. */
async function child(dir: string): Promise<void> {
  const { readManifestFiles } = await import('../engine/manifests/files.ts');
  const { loadManifests } = await import('../engine/manifests/index.ts');
  const cpu = process.cpuUsage();
  const start = performance.now();
  const files = await readManifestFiles([dir], root);
  const read = performance.now();
  const result = loadManifests(files);
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ files: files.length, objects: result.store.size, diagnostics: result.diagnostics.length, readMs: read - start, totalMs: end - start, cpuMs: (used.user + used.system) / 1000 }));
}

/** In the child: compile every kind's schema with ajv at run time, as the loader would without validators.generated.js. */
async function compileChild(): Promise<void> {
  const start = performance.now();
  const { Ajv } = await import('ajv');
  const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true, strict: true, passContext: true });
  ajv.addKeyword({ keyword: 'x-coxswain', schemaType: 'string', validate: () => true });
  const names = ['definitions', 'pod', 'deployment', 'replicaset', 'replicationcontroller', 'daemonset', 'service', 'namespace', 'configmap', 'secret', 'node', 'cluster'];
  for (const name of names) ajv.addSchema(JSON.parse(readFileSync(path.join(root, 'schemas', `${name}.json`), 'utf8')));
  for (const name of names.slice(1)) ajv.getSchema(`${name}.json`);
  const compiled = performance.now();
  process.stdout.write(JSON.stringify({ ms: compiled - start }));
}

async function loadChild(): Promise<void> {
  const start = performance.now();
  await import('../schemas/validators.generated.js');
  process.stdout.write(JSON.stringify({ ms: performance.now() - start }));
}

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cox-bench-validate-'));
  try {
    log(`writing ${MANIFESTS} manifests to ${dir}`);
    for (let i = 0; i < MANIFESTS; i++) {
      const sub = path.join(dir, `team-${i % 100}`);
      if (i < 100) mkdirSync(sub);
      writeFileSync(path.join(sub, `m${i}.yaml`), manifest(i));
    }
    const self = fileURLToPath(import.meta.url);
    const inProcess: number[] = [];
    const cpu: number[] = [];
    const reads: number[] = [];
    let counts = { files: 0, objects: 0, diagnostics: 0 };
    for (let r = 0; r < RUNS; r++) {
      const result = await run(['--import', 'tsx', self], { COX_BENCH_VALIDATE: 'load', COX_BENCH_DIR: dir });
      if (result.code !== 0) throw new Error(`validate child failed: ${result.stderr}`);
      const figures = JSON.parse(result.stdout) as typeof counts & { readMs: number; totalMs: number; cpuMs: number };
      counts = figures;
      inProcess.push(figures.totalMs);
      cpu.push(figures.cpuMs);
      reads.push(figures.readMs);
      log(`run ${r + 1}/${RUNS}: ${figures.files} files, ${figures.objects} objects, ${figures.diagnostics} diagnostics in ${figures.totalMs.toFixed(0)} ms wall, ${figures.cpuMs.toFixed(0)} ms CPU (reading ${figures.readMs.toFixed(0)} ms)`);
    }
    if (counts.objects !== MANIFESTS || counts.diagnostics !== 0) throw new Error(`expected ${MANIFESTS} objects and no diagnostics, got ${JSON.stringify(counts)}`);
    const cli: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const result = await run([path.join(root, 'bin', 'cox.mjs'), 'validate', dir]);
      if (result.code !== 0) throw new Error(`cox validate exited ${result.code}: ${result.stderr.slice(0, 500)}`);
      cli.push(result.ms);
      log(`cox validate run ${r + 1}/${RUNS}: ${result.ms.toFixed(0)} ms wall, process start included`);
    }
    const compile: number[] = [];
    const load: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      load.push((JSON.parse((await run(['--import', 'tsx', self], { COX_BENCH_VALIDATE: 'load-validators' })).stdout) as { ms: number }).ms);
      compile.push((JSON.parse((await run(['--import', 'tsx', self], { COX_BENCH_VALIDATE: 'compile' })).stdout) as { ms: number }).ms);
    }
    log(`validators: load ahead-of-time ${median(load).toFixed(0)} ms vs compile at run time ${median(compile).toFixed(0)} ms`);
    const ms = median(inProcess);
    return {
      manifests: MANIFESTS,
      manifestsPerSecond: Math.round((MANIFESTS / ms) * 1000),
      manifestsPerSecondCpu: Math.round((MANIFESTS / median(cpu)) * 1000),
      validateMs: Math.round(ms),
      validateCpuMs: Math.round(median(cpu)),
      loadAverage1m: Number(loadavg()[0].toFixed(1)),
      cores: cpus().length,
      readMs: Math.round(median(reads)),
      cliWallMs: Math.round(median(cli)),
      cliManifestsPerSecond: Math.round((MANIFESTS / median(cli)) * 1000),
      validatorsLoadMs: Math.round(median(load)),
      validatorsCompileMs: Math.round(median(compile)),
      targetMet: MANIFESTS / ms * 1000 >= 5000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.COX_BENCH_VALIDATE === 'load') await child(process.env.COX_BENCH_DIR!);
else if (process.env.COX_BENCH_VALIDATE === 'compile') await compileChild();
else if (process.env.COX_BENCH_VALIDATE === 'load-validators') await loadChild();
