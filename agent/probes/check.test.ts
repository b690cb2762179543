import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { check, serverName } from './check.ts';
import type { Probe } from '../../schemas/types.generated.ts';
import type { ContainerRuntime } from '../runtime/types.ts';

/** A self-signed certificate for a name no probe verifies, made by openssl for this run. */
async function selfSigned(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cox-probe-tls-'));
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=not-the-pod.example', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
    return { key: await readFile(path.join(dir, 'key.pem')), cert: await readFile(path.join(dir, 'cert.pem')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Seen { url: string; host: string; servername: string | false | null | undefined; tls: boolean }

describe('httpGet probe checks over HTTP and HTTPS against real servers', () => {
  let http: Server;
  let https: Server;
  let httpPort: number;
  let httpsPort: number;
  const seen: Seen[] = [];
  const answer = (tls: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ url: req.url ?? '', host: req.headers.host ?? '', servername: tls ? (req.socket as TLSSocket).servername : undefined, tls });
    res.statusCode = req.url === '/healthz' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end();
  };

  before(async () => {
    http = createHttpServer(answer(false));
    https = createHttpsServer(await selfSigned(), answer(true));
    await Promise.all([http, https].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    httpPort = (http.address() as AddressInfo).port;
    httpsPort = (https.address() as AddressInfo).port;
  });
  after(() => Promise.all([http, https].map((s) => new Promise<void>((r) => s.close(() => r())))));
  beforeEach(() => { seen.length = 0; });

  const runtime = {} as ContainerRuntime;
  const target = { podIP: '127.0.0.1', containerId: 'c1', container: { name: 'app', image: 'coxswain/busybox:1', ports: [{ name: 'https', containerPort: 0 }] }, runtime, timeoutMs: 2000 };
  const probe = (httpGet: Partial<NonNullable<Probe['httpGet']>>): Probe => ({ httpGet: { port: 0, ...httpGet } });

  const cases: { name: string; probe: () => Probe; ok: boolean; message?: RegExp; seen?: () => Partial<Seen> }[] = [
    { name: 'an HTTP probe answered 200 succeeds, in plain HTTP', probe: () => probe({ path: '/healthz', port: httpPort }), ok: true, seen: () => ({ tls: false, host: `127.0.0.1:${httpPort}` }) },
    { name: 'an HTTP probe answered 503 fails with the status code', probe: () => probe({ path: '/', port: httpPort, scheme: 'HTTP' }), ok: false, message: /statuscode: 503/ },
    { name: 'an HTTPS probe speaks TLS and succeeds on 200 although the certificate is self-signed for another name', probe: () => probe({ path: '/healthz', port: httpsPort, scheme: 'HTTPS' }), ok: true, seen: () => ({ tls: true, url: '/healthz', host: `127.0.0.1:${httpsPort}`, servername: false }) },
    { name: 'an HTTPS probe answered 302 succeeds', probe: () => probe({ path: '/moved', port: httpsPort, scheme: 'HTTPS' }), ok: true, seen: () => ({ tls: true }) },
    { name: 'an HTTPS probe answered 503 fails with the status code', probe: () => probe({ path: '/', port: httpsPort, scheme: 'HTTPS' }), ok: false, message: /statuscode: 503/, seen: () => ({ tls: true }) },
    { name: 'an HTTPS probe with a Host header sends it and names that server in SNI', probe: () => probe({ path: '/healthz', port: httpsPort, scheme: 'HTTPS', httpHeaders: [{ name: 'Host', value: 'web.default.svc:8443' }] }), ok: true, seen: () => ({ tls: true, host: 'web.default.svc:8443', servername: 'web.default.svc' }) },
    { name: 'an HTTP probe to a TLS port fails instead of passing', probe: () => probe({ path: '/healthz', port: httpsPort }), ok: false, message: /^Get "http:\/\/127\.0\.0\.1:\d+\/healthz"/ },
    { name: 'an HTTPS probe to a plain HTTP port fails naming the https URL', probe: () => probe({ path: '/healthz', port: httpPort, scheme: 'HTTPS' }), ok: false, message: /^Get "https:\/\/127\.0\.0\.1:\d+\/healthz"/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await check(c.probe(), target);
      assert.equal(r.ok, c.ok, r.message);
      if (c.message) assert.match(r.message, c.message);
      const want = c.seen?.();
      if (want) assert.deepEqual(seen.map((s) => Object.fromEntries(Object.keys(want).map((k) => [k, s[k as keyof Seen]]))), [want]);
    });
  }

  it('resolves a named port for HTTPS from the container ports', async () => {
    const r = await check({ httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' } }, { ...target, container: { ...target.container, ports: [{ name: 'https', containerPort: httpsPort }] } });
    assert.equal(r.ok, true, r.message);
    assert.equal(seen[0]?.tls, true);
  });

  const names: { name: string; host: string; headers: Record<string, string>; want: string }[] = [
    { name: 'no SNI for a pod IP without a Host header', host: '100.64.1.5', headers: {}, want: '' },
    { name: 'the probe host when it is a name', host: 'db.local', headers: {}, want: 'db.local' },
    { name: 'the Host header without its port, whatever its case', host: '100.64.1.5', headers: { host: 'api.example:443' }, want: 'api.example' },
    { name: 'no SNI for a Host header holding an IPv6 address', host: '100.64.1.5', headers: { Host: '[fd00::1]:8443' }, want: '' },
  ];
  for (const n of names) it(`takes as TLS server name ${n.name}`, () => assert.equal(serverName(n.host, n.headers), n.want));
});
