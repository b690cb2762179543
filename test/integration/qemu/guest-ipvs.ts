/**
 * Runs INSIDE the qemu guest (see ../ipvs.test.ts): builds two backend "pods"
 * and a client pod as network namespaces, lets the real IpvsProxier programme
 * the guest kernel, sends traffic, and prints what it saw as one JSON line
 * (`COX-RESULT {...}`) for the host-side test to check.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { IpvsProxier, NftablesProxier, CommandExecutor } from '../../../agent/proxy/index.ts';
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
const STATE_DIR = '/tmp/cox-state';
/** Someone else's virtual servers on the node address: every sync and cleanup must leave them. */
const FOREIGN = `ipvsadm -A -t ${NODE}:9090 -s rr; ipvsadm -A -u ${NODE}:9999 -s rr; ipvsadm -a -u ${NODE}:9999 -r ${PODS.b2}:5353 -m`;

/** A UDP server answering every datagram with its pod's name, on :5353. */
function startUdpEcho(name: string): void {
  const script = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(${JSON.stringify(name)}, r.port, r.address)); s.bind(5353);`;
  spawn('ip', ['netns', 'exec', name, 'node', '-e', script], { stdio: 'ignore', detached: true }).unref();
}

/** One datagram from pod c1, from `sourcePort`, to address:port; the answer or ''. */
function udpAsk(address: string, port: number, sourcePort: number): string {
  const script = `const s = require('dgram').createSocket('udp4'); const t = setTimeout(() => process.exit(3), 2000); s.on('message', (m) => { process.stdout.write(m.toString()); clearTimeout(t); s.close(); }); s.bind(${sourcePort}, () => s.send('ping', ${port}, ${JSON.stringify(address)}));`;
  const r = spawnSync('ip', ['netns', 'exec', 'c1', 'node', '-e', script], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** `conntrack -L -p udp` from c1, one "sport dst:dport replysrc" line each, sorted. */
function udpFlows(): string[] {
  const out = spawnSync('conntrack', ['-L', '-p', 'udp', '--orig-src', PODS.c1], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map((l) => {
    const f = (k: string, nth = 0) => [...l.matchAll(new RegExp(`\\b${k}=(\\S+)`, 'g'))][nth]?.[1];
    return `${f('sport')} ${f('dst')}:${f('dport')} ${f('src', 1)}`;
  }).sort();
}

function udpService(backends: string[]): DesiredService {
  return { namespace: 'default', name: 'udp', type: 'NodePort', clusterIP: '100.127.0.54', ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053, endpoints: backends.map((ip) => ({ ip, port: 5353 })) }] };
}
const vips = () => sh('ip -4 -o address show dev cox-ipvs0 2>/dev/null || true').match(/inet \S+/g) ?? [];

const result: Record<string, unknown> = {};
try {
  setUpPods();
  const proxier = new IpvsProxier(new CommandExecutor(), { stateDir: STATE_DIR });
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

  // UDP: flows of a removed real server are flushed, on its VIP and its NodePort only; a foreign virtual server on the node address stays.
  sh(FOREIGN);
  startUdpEcho('b1');
  startUdpEcho('b2');
  const base = services([PODS.b2]).filter((s) => s.name !== 'sticky');
  await proxier.sync([...base, udpService([PODS.b1, PODS.b2])], CTX);
  const deadline = Date.now() + 20000;
  while (udpAsk(PODS.b1, 5353, 41000) !== 'b1' || udpAsk(PODS.b2, 5353, 41000) !== 'b2') if (Date.now() > deadline) throw new Error('guest: UDP echo servers never answered');
  result.udpAnswers = [udpAsk('100.127.0.54', 53, 41001), udpAsk('100.127.0.54', 53, 41002), udpAsk(NODE, 30053, 41003), udpAsk(NODE, 30053, 41004), udpAsk(NODE, 9999, 41005)];
  result.udpFlowsBefore = udpFlows();
  await proxier.sync([...base, udpService([PODS.b2])], CTX);
  result.udpWarnings = proxier.lastSync!.warnings;
  result.udpFlowsAfter = udpFlows();
  result.saveUdp = save();

  // An agent restarted in nftables mode: its first sync removes every ipvs object of ours, and only those.
  const asNft = new NftablesProxier(new CommandExecutor(), { stateDir: STATE_DIR });
  await asNft.sync(base, CTX);
  result.saveAfterNft = save();
  result.linkAfterNft = spawnSync('ip', ['link', 'show', 'dev', 'cox-ipvs0'], { encoding: 'utf8' }).status;
  result.tablesAfterNft = sh('nft list tables');
  result.fromPodAfterNft = answers('http://100.127.0.10/', 2, 'c1');
  // And back to ipvs: the first sync removes the nftables proxier's table.
  const again = new IpvsProxier(new CommandExecutor(), { stateDir: STATE_DIR });
  await again.sync(base, CTX);
  result.tablesAfterIpvs = sh('nft list tables');
  result.saveAfterIpvs = save();

  await again.cleanup();
  result.save5 = save();
  result.vips5 = vips();
  result.nftAfterCleanup = sh('nft list tables');
} catch (err) {
  result.error = err instanceof Error ? err.stack ?? err.message : String(err);
}
process.stdout.write(`COX-RESULT ${JSON.stringify(result)}\n`);
process.exit(result.error ? 1 : 0);
