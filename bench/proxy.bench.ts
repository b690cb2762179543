/**
 * proxy: 10,000 Services with 10 endpoints each, programmed into a real
 * kernel (nftables, in a network namespace this benchmark makes and removes).
 *
 *   nftFullMs              median of a full sync: normalise, render and `nft -f` the whole table (target <= 2,000)
 *   nftFullApplyCpuMs      CPU time (user + sys) of that `nft -f`: the load-independent cost
 *   nftIncrementalMs       median, one endpoint of one Service changed: render the change and apply it through the
 *                          proxier's long-lived `nft -i` session (target <= 20)
 *   nftIncrementalSpawnMs  the same change applied the old way, a `nft -f` process each (side by side)
 *   nftIncrementalRenderMs median of rendering that change alone
 *   nftIncrementalApplyCpuMs CPU time (user + sys) of `nft -f` for that change, by time(1)
 *   spawnMs                median of spawning `ip netns exec NS true` from this process: the floor under any apply
 *   nftSyncMs              median of a whole Proxier.sync for that change: normalise and diff all 10,000
 *                          desired Services, render, apply (what the agent pays per desired-state update)
 *   nftNoopSyncMs          median of a sync where nothing changed (normalise and diff; no nft run)
 *   ipvsRenderMs           median time to render the whole `ipvsadm --restore` input
 *   loadAverage            the machine's 1-minute load when the benchmark started (2 cores): context for the wall times
 * Byte counts show the O(changed) script against the full one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './run.ts';
import { CommandExecutor, NftablesProxier } from '../agent/proxy/index.ts';
import { diffServicePorts } from '../agent/proxy/change-tracker.ts';
import { renderFull, renderIncremental } from '../agent/proxy/nft-render.ts';
import { NftSession } from '../agent/proxy/nft-session.ts';
import { renderIpvsRestore } from '../agent/proxy/ipvs-render.ts';
import { servicePorts } from '../agent/proxy/service-ports.ts';
import type { DesiredService } from '../common/agent-api.ts';

const SERVICES = 10_000;
const ENDPOINTS = 10;
const NETNS = 'coxbench-proxy3'; // not cox3-*: the lab of index 3 removes its prefix's namespaces
const CTX = { nodeAddress: '198.18.3.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/10' };

function vip(i: number): string {
  return `100.127.${i >> 8}.${i & 255}`;
}

function services(round: number): DesiredService[] {
  const out: DesiredService[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const endpoints = Array.from({ length: ENDPOINTS }, (_, e) => {
      const n = (i * ENDPOINTS + e) % 64000;
      return { ip: `100.64.${(n >> 8) + 1}.${(n & 255) || 1}`, port: 8080 };
    });
    // Service 0's last endpoint moves every round: the one change an incremental sync sees.
    if (i === 0) endpoints[ENDPOINTS - 1] = { ip: `100.65.0.${(round % 250) + 1}`, port: 8080 };
    out.push({ namespace: `ns${i % 20}`, name: `svc${i}`, type: i % 10 === 0 ? 'NodePort' : 'ClusterIP', clusterIP: vip(i), ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: i % 10 === 0 ? 30000 + (i / 10) : undefined, endpoints }] });
  }
  return out;
}

function sh(argv: string[]): void {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const load = os.loadavg()[0];
  spawnSync('ip', ['netns', 'del', NETNS]); // a crashed earlier run
  sh(['ip', 'netns', 'add', NETNS]);
  try {
    const exec = new CommandExecutor(['ip', 'netns', 'exec', NETNS]);
    const figures: Record<string, number | string | boolean> = {};

    const full: number[] = [];
    let fullBytes = 0;
    for (let r = 0; r < 3; r++) {
      const proxier = new NftablesProxier(exec);
      const desired = services(0);
      const started = performance.now();
      await proxier.sync(desired, CTX);
      full.push(performance.now() - started);
      fullBytes = proxier.lastSync!.scriptBytes;
      log(`full sync ${r + 1}/3: ${full.at(-1)!.toFixed(0)} ms, ${fullBytes} bytes of nft script`);
    }

    const proxier = new NftablesProxier(exec);
    await proxier.sync(services(0), CTX);
    const incremental: number[] = [];
    const noop: number[] = [];
    let incBytes = 0;
    for (let r = 1; r <= 15; r++) {
      const desired = services(r);
      const started = performance.now();
      await proxier.sync(desired, CTX);
      incremental.push(performance.now() - started);
      incBytes = proxier.lastSync!.scriptBytes;
      if (proxier.lastSync!.full || proxier.lastSync!.changed !== 1) throw new Error(`round ${r}: expected an incremental sync of one Service, got ${JSON.stringify(proxier.lastSync)}`);
      const again = performance.now();
      await proxier.sync(desired, CTX);
      noop.push(performance.now() - again);
    }
    log(`whole syncs with one change: ${incremental.map((m) => m.toFixed(1)).join(' ')} ms`);

    // The change alone: render it from the computed changes, then apply it, alternately through the session and a spawned nft.
    const renderTimes: number[] = [];
    const changeTimes: number[] = [];
    const spawnedTimes: number[] = [];
    const session = new NftSession(exec);
    let applied = servicePorts(services(15));
    try {
      for (let r = 16; r <= 45; r++) {
        const wanted = servicePorts(services(r));
        const changes = diffServicePorts(new Map(applied.map((p) => [p.key, p])), wanted);
        const started = performance.now();
        const script = renderIncremental(changes, CTX, { table: 'cox_proxy', loadBalance: true });
        const rendered = performance.now();
        if (r % 2 === 0) {
          await session.apply(script);
          renderTimes.push(rendered - started);
          changeTimes.push(performance.now() - started);
        } else {
          const res = await exec.run(['nft', '-f', '-'], script);
          spawnedTimes.push(performance.now() - started);
          if (res.code !== 0) throw new Error(`nft -f: ${res.stderr}`);
        }
        applied = wanted;
      }
    } finally {
      session.close();
    }
    log(`incremental render + apply through the session: ${changeTimes.map((m) => m.toFixed(1)).join(' ')} ms`);
    log(`incremental render + apply by a spawned nft -f: ${spawnedTimes.map((m) => m.toFixed(1)).join(' ')} ms`);

    const spawns: number[] = [];
    for (let r = 0; r < 10; r++) {
      const started = performance.now();
      await exec.run(['true']);
      spawns.push(performance.now() - started);
    }
    {
      const wanted = servicePorts(services(46));
      const script = renderIncremental(diffServicePorts(new Map(applied.map((p) => [p.key, p])), wanted), CTX, { table: 'cox_proxy', loadBalance: true });
      const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-bench-proxy-'));
      writeFileSync(path.join(dir, 'inc.nft'), script);
      const timed = spawnSync('/usr/bin/time', ['-f', '%U %S', 'ip', 'netns', 'exec', NETNS, 'nft', '-f', path.join(dir, 'inc.nft')], { encoding: 'utf8' });
      rmSync(dir, { recursive: true, force: true });
      const [user, sys] = timed.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
      figures.nftIncrementalApplyCpuMs = Math.round((user + sys) * 1000);
    }

    // CPU time of applying the whole table, measured by time(1) around nft.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-bench-proxy-'));
    const file = path.join(dir, 'full.nft');
    writeFileSync(file, renderFull(servicePorts(services(0)), CTX, { table: 'cox_proxy', loadBalance: true }));
    const timed = spawnSync('/usr/bin/time', ['-f', '%U %S', 'ip', 'netns', 'exec', NETNS, 'nft', '-f', file], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    const [user, sys] = timed.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    figures.nftFullApplyCpuMs = Math.round((user + sys) * 1000);

    const ipvs: number[] = [];
    const ports = servicePorts(services(0));
    let ipvsBytes = 0;
    for (let r = 0; r < 5; r++) {
      const started = performance.now();
      ipvsBytes = renderIpvsRestore(ports, { scheduler: 'rr', nodeAddress: CTX.nodeAddress }).length;
      ipvs.push(performance.now() - started);
    }

    figures.loadAverage = Number(load.toFixed(1));
    figures.services = SERVICES;
    figures.endpointsPerService = ENDPOINTS;
    figures.nftFullMs = Math.round(median(full));
    figures.nftFullScriptBytes = fullBytes;
    figures.nftIncrementalMs = Number(median(changeTimes).toFixed(1));
    figures.nftIncrementalSpawnMs = Number(median(spawnedTimes).toFixed(1));
    figures.nftIncrementalRenderMs = Number(median(renderTimes).toFixed(2));
    figures.nftSyncMs = Number(median(incremental).toFixed(1));
    figures.spawnMs = Number(median(spawns).toFixed(1));
    figures.nftIncrementalScriptBytes = incBytes;
    figures.nftNoopSyncMs = Number(median(noop).toFixed(1));
    figures.ipvsRenderMs = Math.round(median(ipvs));
    figures.ipvsRestoreBytes = ipvsBytes;
    return figures;
  } finally {
    spawnSync('ip', ['netns', 'del', NETNS]);
  }
}
