/**
 * Runs INSIDE the qemu guest (see ../ipvs.test.ts): builds two backend "pods"
 * and a client pod as network namespaces, lets the real IpvsProxier programme
 * the guest kernel, sends traffic, and prints what it saw as one JSON line
 * (`COX-RESULT {...}`) for the host-side test to check.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { IpvsProxier, CommandExecutor } from '../../../agent/proxy/index.ts';
import type { DesiredService } from '../../../common/agent-api.ts';

const NODE = '198.18.3.11';
const CTX = { nodeAddress: NODE, podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16' };
const PODS = { b1: '100.64.1.2', b2: '100.64.1.3', c1: '100.64.1.4' } as const;

function sh(script: string): string {
  const r = spawnSync('/bin/sh', ['-ec', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`guest: ${script}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function setUpPods(): void {
  sh(`ip link set lo up; sysctl -q -w net.ipv4.ip_forward=1
ip link add cox-node type dummy; ip address add ${NODE}/24 dev cox-node; ip link set cox-node up`);
  for (const [name, ip] of Object.entries(PODS)) {
    sh(`ip netns add ${name}
ip link add v${name} type veth peer name eth0 netns ${name}
ip address add 100.64.1.1/32 dev v${name}; ip link set v${name} up; ip route add ${ip}/32 dev v${name}
ip -n ${name} link set lo up; ip -n ${name} address add ${ip}/32 dev eth0; ip -n ${name} link set eth0 up
ip -n ${name} route add 100.64.1.1 dev eth0; ip -n ${name} route add default via 100.64.1.1`);
  }
  for (const name of ['b1', 'b2']) {
    mkdirSync(`/tmp/www-${name}`, { recursive: true });
    writeFileSync(`/tmp/www-${name}/index.html`, `${name}\n`);
    spawn('ip', ['netns', 'exec', name, 'busybox', 'httpd', '-f', '-p', '8080', '-h', `/tmp/www-${name}`], { stdio: 'ignore', detached: true }).unref();
  }
  // wait for both httpds to listen (a deadline, not a sleep)
  const deadline = Date.now() + 20000;
  for (const ip of [PODS.b1, PODS.b2]) {
    while (get(`http://${ip}:8080/`).status !== 0) if (Date.now() > deadline) throw new Error(`guest: httpd on ${ip}:8080 never answered`);
  }
}

function get(url: string, from?: string): { status: number | null; body: string; error: string; ms: number } {
  const argv = [...(from ? ['ip', 'netns', 'exec', from] : []), 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url];
  const started = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return { status: r.status, body: r.stdout.trim(), error: r.stderr.trim(), ms: Math.round(performance.now() - started) };
}

function answers(url: string, count: number, from?: string): string[] {
  return Array.from({ length: count }, () => {
    const r = get(url, from);
    return r.status === 0 ? r.body : `error: ${r.error}`;
  });
}

function web(backends: string[]): DesiredService {
  return { namespace: 'default', name: 'web', type: 'NodePort', clusterIP: '100.127.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: backends.map((ip) => ({ ip, port: 8080 })) }] };
}

function services(webBackends: string[]): DesiredService[] {
  return [
    web(webBackends),
    { namespace: 'default', name: 'sticky', type: 'ClusterIP', clusterIP: '100.127.0.13', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 300, ports: [{ protocol: 'TCP', port: 80, endpoints: [{ ip: PODS.b1, port: 8080 }, { ip: PODS.b2, port: 8080 }] }] },
    { namespace: 'default', name: 'empty', type: 'ClusterIP', clusterIP: '100.127.0.12', ports: [{ protocol: 'TCP', port: 80, endpoints: [] }] },
    { namespace: 'default', name: 'dns', type: 'ClusterIP', clusterIP: '100.127.0.53', ports: [{ name: 'dns', protocol: 'UDP', port: 53, endpoints: [{ ip: PODS.b1, port: 5353 }] }] },
    { namespace: 'default', name: 'headless', type: 'ClusterIP', clusterIP: 'None', ports: [{ protocol: 'TCP', port: 80, endpoints: [{ ip: PODS.b2, port: 8080 }] }] },
  ];
}

const save = () => sh('ipvsadm -S -n');
const vips = () => sh('ip -4 -o address show dev cox-ipvs0 2>/dev/null || true').match(/inet \S+/g) ?? [];

const result: Record<string, unknown> = {};
try {
  setUpPods();
  const proxier = new IpvsProxier(new CommandExecutor());
  let started = performance.now();
  result.table = await proxier.sync(services([PODS.b1, PODS.b2]), CTX);
  result.firstSyncMs = Math.round(performance.now() - started);
  result.save1 = save();
  result.vips1 = vips();
  result.fromNode = answers('http://100.127.0.10/', 4);
  result.fromPod = answers('http://100.127.0.10/', 4, 'c1');
  result.hairpin = answers('http://100.127.0.10/', 4, 'b1');
  result.nodePort = answers(`http://${NODE}:30080/`, 4, 'c1');
  result.sticky = answers('http://100.127.0.13/', 4, 'c1');
  result.empty = get('http://100.127.0.12/', 'c1');

  started = performance.now();
  await proxier.sync(services([PODS.b2]), CTX);
  result.drainSyncMs = Math.round(performance.now() - started);
  result.save2 = save();
  result.afterRemoval = answers('http://100.127.0.10/', 4);
  await proxier.sync(services([PODS.b2]), CTX);
  result.save3 = save();

  await proxier.sync(services([PODS.b2]).filter((s) => s.name !== 'sticky'), CTX);
  result.save4 = save();
  result.vips4 = vips();

  await proxier.cleanup();
  result.save5 = save();
  result.vips5 = vips();
  result.nftAfterCleanup = sh('nft list tables');
} catch (err) {
  result.error = err instanceof Error ? err.stack ?? err.message : String(err);
}
process.stdout.write(`COX-RESULT ${JSON.stringify(result)}\n`);
process.exit(result.error ? 1 : 0);
