/**
 * The examples' apps (examples-repo/apps/*\/server.js) as the lab runs them
 * (`node /app/server.js` with the environment Coxswain injects), here on
 * loopback: web answers `/` by asking api through API_SERVICE_HOST/PORT and
 * names the pods that answered; both serve /healthz; both stop on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';

const apps = path.resolve(import.meta.dirname, '../../examples-repo/apps');

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** Starts an app on a free loopback port and waits (with a deadline) for its "listening on :PORT" line. */
function start(app: 'web' | 'api', env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [path.join(apps, app, 'server.js')], { env: { PATH: process.env.PATH ?? '', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app} did not report listening within 20 s; output: ${output}`));
    }, 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on :(\d+)/.exec(output);
      if (match) {
        clearTimeout(deadline);
        resolve({ child, port: Number(match[1]), output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      reject(new Error(`${app} exited with ${code} before listening; output: ${output}`));
    });
  });
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function stopped(running: Running): Promise<number | null> {
  return new Promise((resolve) => {
    if (running.child.exitCode !== null) return resolve(running.child.exitCode);
    running.child.once('exit', (code) => resolve(code));
  });
}

describe('examples-repo apps on loopback', function () {
  this.timeout(60_000);
  const started: Running[] = [];
  after(() => {
    for (const running of started) if (running.child.exitCode === null && running.child.pid) process.kill(running.child.pid, 'SIGKILL');
  });

  it('web answers / through the api Service variables and names both pods; /healthz is ok; both exit 0 on SIGTERM', async () => {
    const api = await start('api', { POD_NAME: 'api-7d9f-x1' });
    started.push(api);
    const web = await start('web', { POD_NAME: 'web-5c4b-q2', NODE_NAME: 'h2', GREETING: 'Hello from Coxswain', API_PATH: '/hello', API_SERVICE_HOST: '127.0.0.1', API_SERVICE_PORT: String(api.port) });
    started.push(web);

    assert.deepEqual(await get(web.port, '/healthz'), { status: 200, body: 'ok\n' });
    assert.deepEqual(await get(api.port, '/healthz'), { status: 200, body: 'ok\n' });
    const first = await get(web.port, '/');
    assert.equal(first.status, 200);
    assert.equal(first.body, 'Hello from Coxswain: web pod web-5c4b-q2 on h2 -> api pod api-7d9f-x1 says "hello #1 from api-7d9f-x1"\n');
    assert.match((await get(web.port, '/')).body, /hello #2 from api-7d9f-x1/);

    process.kill(api.child.pid!, 'SIGTERM');
    assert.equal(await stopped(api), 0);
    const degraded = await get(web.port, '/');
    assert.equal(degraded.status, 502);
    assert.match(degraded.body, /web pod web-5c4b-q2 on h2 could not reach api: connect ECONNREFUSED 127\.0\.0\.1:\d+/);

    process.kill(web.child.pid!, 'SIGTERM');
    assert.equal(await stopped(web), 0);
  });

  it('web says plainly that the api Service variables are missing when they are', async () => {
    const web = await start('web', { POD_NAME: 'web-alone' });
    started.push(web);
    const answer = await get(web.port, '/');
    assert.equal(answer.status, 502);
    assert.match(answer.body, /API_SERVICE_HOST\/API_SERVICE_PORT are not set/);
    process.kill(web.child.pid!, 'SIGTERM');
    assert.equal(await stopped(web), 0);
  });
});
