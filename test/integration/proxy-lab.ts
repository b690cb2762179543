/**
 * Helpers for the proxy's integration tests in the lab: run the proxier's
 * commands inside a lab host, start busybox "pods" with podman, and ask a VIP
 * who answers. Nothing here fakes the kernel: nft, podman and wget are real.
 */
import type { ChildProcess } from 'node:child_process';
import { labExec, labSpawn, type Lab } from '../../engine/lab/index.ts';
import type { Executor, CommandResult } from '../../agent/proxy/exec.ts';
import type { DesiredService } from '../../common/agent-api.ts';

/** Runs the proxier's commands on a lab host, as the agent running there would. */
export class LabExecutor implements Executor {
  constructor(
    private readonly lab: Lab,
    private readonly node: string,
  ) {}

  run(argv: string[], input?: string): Promise<CommandResult> {
    return labExec(this.lab, this.node, argv, { input, timeoutMs: 30000 });
  }

  spawn(argv: string[]): ChildProcess {
    return labSpawn(this.lab, this.node, argv);
  }
}

export async function must(lab: Lab, node: string, argv: string[]): Promise<string> {
  const r = await labExec(lab, node, argv, { timeoutMs: 60000 });
  if (r.code !== 0) throw new Error(`${node}: ${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** A busybox httpd answering GET / with `text` on :8080; returns its pod IP. */
export async function startWebPod(lab: Lab, node: string, name: string, text: string): Promise<string> {
  await labExec(lab, node, ['podman', 'rm', '-f', '-t', '0', name]);
  const script = `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`;
  await must(lab, node, ['podman', 'run', '-d', '--name', name, '--init', 'coxswain/busybox:1', 'sh', '-c', script]);
  return must(lab, node, ['podman', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name]);
}

/** A pod that only sleeps, to send requests from. */
export async function startClientPod(lab: Lab, node: string, name: string): Promise<string> {
  await labExec(lab, node, ['podman', 'rm', '-f', '-t', '0', name]);
  await must(lab, node, ['podman', 'run', '-d', '--name', name, '--init', 'coxswain/busybox:1', 'sleep', '3600']);
  return must(lab, node, ['podman', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name]);
}

export interface Answer {
  ok: boolean;
  body: string;
  error: string;
  ms: number;
}

/** GET http://address:port/ from a host (pod undefined) or from inside a pod on that host. */
export async function httpGet(lab: Lab, node: string, url: string, pod?: string): Promise<Answer> {
  // busybox's own `wget -T` crashes (LAB.md); on a host, coreutils' timeout (busybox's misbehaves under nsenter -p)
  const argv = pod ? ['podman', 'exec', pod, 'timeout', '5', 'wget', '-q', '-O', '-', url] : ['timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url];
  const started = performance.now();
  const r = await labExec(lab, node, argv, { timeoutMs: 20000 });
  return { ok: r.code === 0, body: r.stdout.trim(), error: r.stderr.trim(), ms: performance.now() - started };
}

/** Who answered `count` requests, in order. */
export async function answers(lab: Lab, node: string, url: string, count: number, pod?: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = await httpGet(lab, node, url, pod);
    out.push(a.ok ? a.body : `error: ${a.error}`);
  }
  return out;
}

export function service(name: string, vip: string, endpoints: string[], extra: Partial<DesiredService> & { nodePort?: number; protocol?: 'TCP' | 'UDP'; port?: number } = {}): DesiredService {
  const { nodePort, protocol, port, ...rest } = extra;
  return {
    namespace: 'default',
    name,
    type: nodePort ? 'NodePort' : 'ClusterIP',
    clusterIP: vip,
    ports: [{ name: 'http', protocol: protocol ?? 'TCP', port: port ?? 80, nodePort, endpoints: endpoints.map((ip) => ({ ip, port: 8080 })) }],
    ...rest,
  };
}

/** A UDP pod answering every datagram with `text`, on :5353 (node:dgram in the lab's node image). */
export async function startUdpPod(lab: Lab, node: string, name: string, text: string): Promise<string> {
  await labExec(lab, node, ['podman', 'rm', '-f', '-t', '0', name]);
  const script = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(${JSON.stringify(text)}, r.port, r.address)); s.bind(5353);`;
  await must(lab, node, ['podman', 'run', '-d', '--name', name, '--init', 'coxswain/node:20', 'node', '-e', script]);
  return must(lab, node, ['podman', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name]);
}

/** Sends one datagram from a lab host to address:port (from `sourcePort` when given) and returns the answer ('' when none came within 2 s). */
export async function udpAsk(lab: Lab, node: string, address: string, port: number, sourcePort?: number): Promise<string> {
  const send = `s.send('ping', ${port}, ${JSON.stringify(address)})`;
  const script = `const s = require('dgram').createSocket('udp4'); const t = setTimeout(() => process.exit(3), 2000); s.on('message', (m) => { process.stdout.write(m.toString()); clearTimeout(t); s.close(); }); ${sourcePort ? `s.bind(${sourcePort}, () => ${send});` : `${send};`}`;
  const r = await labExec(lab, node, ['node', '-e', script], { timeoutMs: 20000 });
  return r.code === 0 ? r.stdout.trim() : '';
}
