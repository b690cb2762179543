/**
 * Benchmark `agent`: the bundled cox-agent (dist/cox-agent.mjs, what hosts
 * run) in a one-host lab (index 6, moved by COX_LAB_INDEX_OFFSET like the
 * integration suites') with real Podman.
 *   podStartMs     median over 5 pods of: PUT accepted → pod Ready (infra +
 *                  busybox httpd with an httpGet readiness probe, image present)
 *   fiftyPodsMs    one PUT with 50 such pods → all 50 Ready
 *   idleRssMb      the agent's resident memory with the 50 pods, after settling
 *   idleCpuPercent the agent's CPU (of one core) over 30 s idle with the 50 pods
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labDown, labUp, type Lab } from '../engine/lab/index.ts';
import { buildAgentBundle } from '../agent/bundle.ts';
import type { AgentClient } from '../agent/client.ts';
import type { DesiredPod } from '../common/agent-api.ts';
import { median } from './run.ts';
import { busyboxPod, desiredFor, isReady, startAgent, waitFor, type RunningAgent } from '../test/integration/agent-harness.ts';
import { labIndex } from '../test/integration/lab-fixture.ts';

const INDEX = labIndex(6);

function httpdPod(name: string): DesiredPod {
  return busyboxPod(name, `uid-bench-${name}`, {
    command: ['httpd', '-f', '-p', '8080', '-h', '/etc'],
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/hostname', port: 'http' } },
  }, { terminationGracePeriodSeconds: 1 });
}

/** Resolves when every pod named is Ready, following the change stream (no polling delay). */
async function allReady(client: AgentClient, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ready = new Set<string>();
  let since = 0;
  while (ready.size < names.length) {
    if (Date.now() > deadline) throw new Error(`timed out: ${ready.size}/${names.length} pods Ready`);
    const w = await client.watch(since, 5);
    since = w.seq;
    const pods = w.snapshot ? w.snapshot.pods : w.changes.flatMap((c) => (c.type === 'pod' ? [c.pod] : []));
    for (const p of pods) if (names.includes(p.name)) (isReady(p) ? ready.add(p.name) : ready.delete(p.name));
  }
}

async function noPods(client: AgentClient, timeoutMs: number): Promise<void> {
  await waitFor('every pod to be gone', async () => ((await client.observed()).state.pods.length === 0 ? true : undefined), timeoutMs, 200);
}

/** The node process below the nsenter/setpriv chain labSpawn started. */
function agentPid(spawned: number): number {
  let pid = spawned;
  for (let depth = 0; depth < 5; depth++) {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (path.basename(cmd[0]) === 'node') return pid;
    const children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)).map(Number);
    if (children.length === 0) break;
    pid = children[0];
  }
  throw new Error(`no node process under PID ${spawned}`);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssBytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** Resident memory split into file-backed pages (mostly the node binary) and anonymous memory (heap, malloc). */
function rssSplit(pid: number): string {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN);
  return `file-backed ${((kb('Rss') - kb('Anonymous')) / 1024).toFixed(1)} MiB, anonymous ${(kb('Anonymous') / 1024).toFixed(1)} MiB`;
}

/** The agent's own view of where its memory is, from its /metrics: for reading a regression, not a figure. */
async function memoryBreakdown(client: AgentClient): Promise<string> {
  const text = await client.metrics();
  const mib = (name: string) => (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20).toFixed(1);
  return `heap ${mib('nodejs_heap_size_used_bytes')}/${mib('nodejs_heap_size_total_bytes')} MiB, external ${mib('nodejs_external_memory_bytes')} MiB, array buffers ${mib('nodejs_array_buffers_bytes')} MiB`;
}

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cox-bench-agent-'));
  let lab: Lab | undefined;
  let agent: RunningAgent | undefined;
  try {
    const bundle = await buildAgentBundle();
    const program = path.join(dir, 'cox-agent.mjs');
    await writeFile(program, bundle.contents, { mode: 0o755 });
    log(`agent bundle ${bundle.contents.length} bytes, build ${bundle.build.slice(0, 12)}`);
    lab = await labUp({ name: 'bench-agent', index: INDEX, nodes: 1, dir: path.join(dir, 'lab'), onProgress: (l) => log(l) });
    agent = await startAgent(lab, 'h1', [], program);
    const client = agent.client;
    let generation = 0;
    const put = (pods: DesiredPod[]) => client.putDesired(desiredFor(lab!, 'h1', ++generation, pods));

    // Warm-up: the pause image import and the pod network happen once per host.
    await put([httpdPod('warmup')]);
    await allReady(client, ['warmup'], 60_000);
    await put([]);
    await noPods(client, 60_000);

    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `single-${i}`;
      const t0 = performance.now();
      await put([httpdPod(name)]);
      await allReady(client, [name], 60_000);
      starts.push(performance.now() - t0);
      log(`pod ${name} Ready in ${Math.round(starts[i])} ms`);
      await put([]);
      await noPods(client, 60_000);
    }

    const fifty = Array.from({ length: 50 }, (_, i) => httpdPod(`fifty-${String(i).padStart(2, '0')}`));
    const t0 = performance.now();
    await put(fifty);
    await allReady(client, fifty.map((p) => p.name), 300_000);
    const fiftyPodsMs = performance.now() - t0;
    log(`50 pods Ready in ${Math.round(fiftyPodsMs)} ms`);

    const pid = agentPid(agent.child.pid!);
    log('settling 20 s, then measuring idle CPU over 30 s');
    await new Promise((r) => setTimeout(r, 20_000));
    const hz = 100;
    const c0 = cpuTicks(pid);
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 30_000));
    const idleCpuPercent = (((cpuTicks(pid) - c0) / hz) / ((performance.now() - w0) / 1000)) * 100;
    const idleRssMb = rssBytes(pid) / 2 ** 20;
    log(`idle: ${idleCpuPercent.toFixed(2)} % CPU, ${idleRssMb.toFixed(1)} MiB RSS: ${rssSplit(pid)} (${await memoryBreakdown(client)})`);

    await put([]);
    await noPods(client, 180_000);
    return {
      podStartMs: Math.round(median(starts)),
      fiftyPodsMs: Math.round(fiftyPodsMs),
      idleRssMb: Math.round(idleRssMb * 10) / 10,
      idleCpuPercent: Math.round(idleCpuPercent * 100) / 100,
      idleRssWithinTarget: idleRssMb <= 80,
      idleCpuWithinTarget: idleCpuPercent <= 2,
    };
  } finally {
    await agent?.stop();
    if (lab) await labDown(lab);
    await rm(dir, { recursive: true, force: true });
  }
}
