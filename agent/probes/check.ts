/**
 * Runs one probe check against a container: httpGet to the pod IP (2xx and
 * 3xx succeed), tcpSocket (a connection succeeds), exec through the runtime's
 * exec API (exit code 0 succeeds). Each honours the probe's timeout.
 * httpGet with `scheme: HTTPS` speaks TLS as kubelet does: the certificate is
 * not verified (a pod's certificate names its service, not its IP), a Host
 * header in httpHeaders is sent as is and names the server (SNI).
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP } from 'node:net';
import type { Container, Probe } from '../../schemas/types.generated.ts';
import type { ContainerRuntime } from '../runtime/types.ts';

export interface CheckTarget {
  podIP: string;
  containerId: string;
  container: Container;
  runtime: ContainerRuntime;
  timeoutMs: number;
}

export interface CheckResult {
  ok: boolean;
  message: string;
}

export function resolvePort(port: number | string | undefined, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export async function check(probe: Probe, target: CheckTarget): Promise<CheckResult> {
  if (probe.httpGet) {
    const port = resolvePort(probe.httpGet.port as number | string, target.container);
    if (port === undefined) return { ok: false, message: `port ${probe.httpGet.port} not found in container ports` };
    const host = probe.httpGet.host ?? target.podIP;
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/coxswain', accept: '*/*' };
    for (const h of probe.httpGet.httpHeaders ?? []) headers[h.name] = h.value;
    return httpCheck(probe.httpGet.scheme === 'HTTPS' ? 'https' : 'http', host, port, probe.httpGet.path ?? '/', headers, target.timeoutMs);
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port as number | string, target.container);
    if (port === undefined) return { ok: false, message: `port ${probe.tcpSocket.port} not found in container ports` };
    return tcpCheck(probe.tcpSocket.host ?? target.podIP, port, target.timeoutMs);
  }
  if (probe.exec) {
    try {
      const r = await target.runtime.exec(target.containerId, probe.exec.command ?? [], target.timeoutMs);
      return r.exitCode === 0 ? { ok: true, message: '' } : { ok: false, message: `command exited with ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 200)}` };
    } catch (err) {
      return { ok: false, message: `exec failed: ${(err as Error).message}` };
    }
  }
  return { ok: false, message: 'probe has no handler (httpGet, tcpSocket or exec)' };
}

/** The TLS server name of an HTTPS probe: the Host header's name if one is given, else the probe's host; none for an address (SNI carries names only). */
export function serverName(host: string, headers: Record<string, string>): string {
  const header = Object.entries(headers).find(([k]) => k.toLowerCase() === 'host')?.[1];
  const name = header === undefined ? host : (/^\[(.*)\](:\d+)?$/.exec(header)?.[1] ?? header.replace(/:\d+$/, ''));
  return isIP(name) ? '' : name;
}

function httpCheck(scheme: 'http' | 'https', host: string, port: number, path: string, headers: Record<string, string>, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const url = `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}${path}`;
    const options: RequestOptions = { host, port, path, headers, timeout: timeoutMs, agent: false };
    const onResponse = (res: IncomingMessage) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { ok: true, message: '' } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
    };
    const req = scheme === 'https'
      ? httpsRequest({ ...options, rejectUnauthorized: false, servername: serverName(host, headers) }, onResponse)
      : httpRequest(options, onResponse);
    req.once('timeout', () => { req.destroy(); resolve({ ok: false, message: `Get "${url}": context deadline exceeded (timeout ${timeoutMs} ms)` }); });
    req.once('error', (err) => resolve({ ok: false, message: `Get "${url}": ${err.message}` }));
    req.end();
  });
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => { socket.destroy(); resolve({ ok: true, message: '' }); });
    socket.once('timeout', () => { socket.destroy(); resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }); });
    socket.once('error', (err) => resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` }));
  });
}
