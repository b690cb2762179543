/**
 * `npm run demo [-- --detach | --down] [--nodes N] [--dir DIR]`
 *
 * The whole product on one machine: a 3-host lab (index 0), the cluster
 * repository from examples-repo with the lab's pinned host keys, the engine in
 * the background, progress from the status branch, and — once the app serves
 * through its VIP — the nodes, pods, VIP, the command to try it, and the
 * status log. Ctrl-C tears everything down; --detach leaves it running;
 * --down tears down a detached demo.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeError } from '../../common/errors.ts';
import type { ObservedState } from '../model.ts';
import { git } from './gitcli.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LAB_INDEX = 0;
const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (line: string) => out(`==> ${line}`);

interface DemoFlags {
  down: boolean;
  detach: boolean;
  nodes: number;
  dir: string;
  timeoutMs: number;
}

function flags(argv: string[]): DemoFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      down: { type: 'boolean', default: false },
      detach: { type: 'boolean', default: false },
      nodes: { type: 'string', default: '3' },
      dir: { type: 'string', default: path.join(PROJECT_ROOT, '.lab') },
      timeout: { type: 'string', default: '300' },
    },
    strict: true,
  });
  return { down: values.down!, detach: values.detach!, nodes: Number(values.nodes), dir: path.resolve(values.dir!), timeoutMs: Number(values.timeout) * 1000 };
}

const pidFile = (dir: string) => path.join(dir, 'engine.pid');
const logFile = (dir: string) => path.join(dir, 'engine.log');

/** Our engine process, if the pid file names one that still runs `cox engine`. */
function runningEngine(dir: string): number | undefined {
  if (!existsSync(pidFile(dir))) return undefined;
  const pid = Number(readFileSync(pidFile(dir), 'utf8').trim());
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('cox.mjs') && cmdline.includes('engine') ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function stopEngine(dir: string): Promise<void> {
  const pid = runningEngine(dir);
  if (pid) {
    step(`stopping the engine (pid ${pid})`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (runningEngine(dir) && Date.now() < deadline) await sleep(100);
    if (runningEngine(dir)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile(dir), { force: true });
}

async function down(dir: string): Promise<void> {
  await stopEngine(dir);
  const { labDown, readLab } = await import('../lab/index.ts');
  if (readLab(dir)) {
    step('tearing the lab down');
    await labDown(dir, (line) => out(`    ${line}`));
  }
  step('demo down: nothing left running');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function main(argv: string[]): Promise<number> {
  const options = flags(argv);
  if (options.down) {
    await down(options.dir);
    return 0;
  }
  const { labUp, labExec } = await import('../lab/index.ts');
  const { readStatusSnapshot } = await import('../status/read.ts');

  await stopEngine(options.dir);
  step(`bringing up a lab of ${options.nodes} hosts (index ${LAB_INDEX}) in ${options.dir}`);
  const lab = await labUp({ name: 'demo', index: LAB_INDEX, nodes: options.nodes, dir: options.dir, onProgress: (line) => out(`    ${line}`) });
  const repo = lab.clusterRepo;
  if (!repo) throw new Error('the lab wrote no cluster repository');
  step(`cluster repository: ${repo}`);

  step('starting the engine');
  const log = openSync(logFile(options.dir), 'a');
  const engine: ChildProcess = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/cox.mjs'), 'engine', '--repo', repo, '--ssh-key', lab.clientKeyPath, '--metrics', '127.0.0.1:9464'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  writeFileSync(pidFile(options.dir), `${engine.pid}\n`);
  out(`    pid ${engine.pid}, logs in ${logFile(options.dir)}, metrics on http://127.0.0.1:9464/metrics`);
  let engineExited = false;
  engine.on('exit', () => (engineExited = true));

  let interrupted = false;
  const onSigint = () => (interrupted = true);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  try {
    step('waiting for the app to serve through its VIP (progress from the status branch)');
    const deadline = Date.now() + options.timeoutMs;
    let seen = new Set<string>();
    let serving: { observed: ObservedState; vip: string; port: number; body: string } | undefined;
    while (!serving) {
      if (interrupted) throw new Error('interrupted');
      if (engineExited) throw new Error(`the engine exited; see ${logFile(options.dir)}:\n${tail(logFile(options.dir), 15)}`);
      if (Date.now() > deadline) throw new Error(`the app did not serve within ${options.timeoutMs / 1000}s; see ${logFile(options.dir)}`);
      seen = await printNewStatusCommits(repo, seen);
      const { observed } = await readStatusSnapshot(repo);
      const target = frontService(observed);
      if (target && allPodsReady(observed)) {
        const probe = await labExec(lab, lab.nodes[0].name, ['timeout', '3', 'wget', '-qO-', `http://${target.vip}${target.port === 80 ? '' : `:${target.port}`}/`], { timeoutMs: 5000 });
        if (probe.code === 0) serving = { observed, ...target, body: probe.stdout.trim() };
      }
      if (!serving) await sleep(500);
    }
    await printNewStatusCommits(repo, seen);
    summary(serving.observed, serving.vip, serving.port, serving.body, lab.nodes[0].name);
    out('status log (git log --oneline coxswain/status):');
    out((await git(repo, ['log', '--oneline', '-n', '15', 'coxswain/status'])).stdout.trimEnd().replace(/^/gm, '    '));
    out();
    if (options.detach) {
      engine.unref();
      out(`The demo keeps running. Tear it down with: npm run demo -- --down`);
      return 0;
    }
    out('Press Ctrl-C to tear everything down.');
    while (!interrupted && !engineExited) await sleep(200);
    if (engineExited && !interrupted) out(`the engine exited; see ${logFile(options.dir)}`);
    await down(options.dir);
    return 0;
  } catch (err) {
    out(`demo: ${describeError(err)}`);
    await down(options.dir);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigint);
  }
}

/** The Service users reach: one named web or frontend, else the first with a VIP. */
function frontService(observed: ObservedState): { vip: string; port: number } | undefined {
  const services = [...observed.services.values()].filter((s) => s.spec.clusterIP && s.spec.clusterIP !== 'None' && s.status.endpoints.some((e) => e.addresses.length > 0));
  const front = services.find((s) => /^(web|frontend)$/.test(s.metadata.name)) ?? services[0];
  return front ? { vip: front.spec.clusterIP, port: front.spec.ports[0].port } : undefined;
}

function allPodsReady(observed: ObservedState): boolean {
  const pods = [...observed.pods.values()].filter((p) => !p.metadata.deletionTimestamp);
  return pods.length > 0 && pods.every((p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
}

async function printNewStatusCommits(repo: string, seen: Set<string>): Promise<Set<string>> {
  const log = await git(repo, ['log', '--format=%H %s', '-n', '50', 'coxswain/status'], { allowFailure: true });
  if (log.code !== 0) return seen;
  const fresh = log.stdout.trim().split('\n').filter(Boolean).filter((line) => !seen.has(line.slice(0, 40))).reverse();
  for (const line of fresh) out(`    status: ${line.slice(41)}`);
  return new Set([...seen, ...log.stdout.trim().split('\n').map((l) => l.slice(0, 40))]);
}

function summary(observed: ObservedState, vip: string, port: number, body: string, firstNode: string): void {
  out();
  out('The app serves through its VIP.');
  out();
  out('nodes:');
  for (const node of [...observed.nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const ready = node.status.conditions.find((c) => c.type === 'Ready');
    const address = node.status.addresses.find((a) => a.type === 'InternalIP')?.address ?? '';
    out(`    ${node.metadata.name.padEnd(6)} ${address.padEnd(15)} ${ready?.status === 'True' ? 'Ready' : `NotReady${ready?.reason ? ` (${ready.reason})` : ''}`}`);
  }
  out('pods:');
  const pods = [...observed.pods.values()].filter((p) => !p.metadata.deletionTimestamp).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const width = Math.max(...pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`.length));
  for (const pod of pods) out(`    ${`${pod.metadata.namespace}/${pod.metadata.name}`.padEnd(width)}  ${(pod.spec.nodeName ?? '-').padEnd(4)} ${(pod.status.podIP ?? '').padEnd(15)} ${pod.status.phase}`);
  out('services:');
  for (const service of observed.services.values()) out(`    ${service.metadata.namespace}/${service.metadata.name}  ${service.spec.clusterIP}  ports ${service.spec.ports.map((p) => p.port).join(',')}  endpoints ${service.status.endpoints.flatMap((e) => e.addresses).length}`);
  out();
  out(`VIP: ${vip}:${port}`);
  out(`It answered: ${body.split('\n')[0].slice(0, 200)}`);
  out(`Try it inside the lab:  ./bin/cox.mjs lab exec ${firstNode} -- wget -qO- http://${vip}${port === 80 ? '' : `:${port}`}/`);
  out();
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
