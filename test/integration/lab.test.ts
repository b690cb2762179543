import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { isAlive } from '../../engine/lab/host.ts';
import { labDown, labExec, labPodmanSocket, labSshArgv, labUp, readLab, type Lab } from '../../engine/lab/index.ts';
import { listLinks, listNetns, nftTableExists } from '../../engine/lab/network.ts';
import { run, waitFor } from '../../engine/lab/process.ts';
import { loadManifests, formatDiagnostic } from '../../engine/manifests/index.ts';
import { labFixtureDir, labIndex, useLab } from './lab-fixture.ts';

const INDEX = labIndex(1);

/** One Docker Engine API call over a unix socket, JSON in and out. */
function docker(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: () => any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** What a lab with this index owns in the root namespace right now. */
async function leftovers(index: number, pids: number[]): Promise<string[]> {
  const found: string[] = [];
  for (const netns of await listNetns()) if (netns.startsWith(`cox${index}-`)) found.push(`netns ${netns}`);
  for (const link of await listLinks()) if (link === `coxbr${index}` || new RegExp(`^cox${index}h\\d+$`).test(link)) found.push(`link ${link}`);
  if (await nftTableExists(index)) found.push(`nft table inet coxlab${index}`);
  const routes = (await run(['ip', 'route', 'show', `198.18.${index}.0/24`])).stdout.trim();
  if (routes) found.push(`route ${routes}`);
  for (const pid of pids) if (isAlive(pid)) found.push(`process ${pid}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(`/run/netns/cox${index}-`) || line.includes(labFixtureDir(index))) found.push(`mount ${line}`);
  }
  return found;
}

/** A small examples repository: one app folder and a manifest, standing in for the project's examples-repo. */
function examplesRepo(): string {
  const dir = join(tmpdir(), 'cox-lab-test-examples');
  mkdirSync(join(dir, 'apps/hello'), { recursive: true });
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  writeFileSync(join(dir, 'apps/hello/server.js'), "require('http').createServer((q, r) => r.end('hello from ' + require('os').hostname() + '\\n')).listen(8080);\n");
  writeFileSync(join(dir, 'nodes/h9.yaml'), 'a stale node file from the examples, replaced by the lab nodes\n');
  writeFileSync(join(dir, 'namespace.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n');
  return dir;
}

describe('the lab (index 1, two hosts)', function () {
  this.timeout(120_000);
  const handle = useLab({ index: INDEX, nodes: 2, examplesDir: examplesRepo() });

  it('gives every host its own name, address, pod subnet and no default route', async () => {
    for (const [i, node] of handle.lab.nodes.entries()) {
      assert.equal(node.name, `h${i + 1}`);
      assert.equal(node.address, `198.18.${INDEX}.${11 + i}`);
      assert.equal(node.podCIDR, `100.64.${i + 1}.0/24`);
      assert.equal((await labExec(handle.lab, node.name, ['hostname'])).stdout.trim(), node.name);
      const routes = (await labExec(handle.lab, node.name, ['ip', 'route', 'show'])).stdout;
      assert.doesNotMatch(routes, /^default/m);
      assert.match(routes, new RegExp(`^100\\.127\\.0\\.0/24 via 198\\.18\\.${INDEX}\\.1 dev eth0 src ${node.address.replace(/\./g, '\\.')}`, 'm'));
    }
  });

  it('lets ssh log in with the lab key when the host key matches the pinned one', async () => {
    const result = await run(labSshArgv(handle.lab, 'h2', ['echo "$(hostname) $(id -u)"']), { timeoutMs: 20_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'h2 0');
  });

  it('makes ssh refuse a host whose key is not the pinned one', async () => {
    const [h1, h2] = handle.lab.nodes;
    const wrongKnownHosts = join(handle.dir, 'known_hosts.wrong');
    writeFileSync(wrongKnownHosts, `${h1.address} ${h2.hostKeys[0]}\n`);
    const argv = labSshArgv({ ...handle.lab, knownHostsPath: wrongKnownHosts }, 'h1', ['true']);
    const result = await run(argv, { timeoutMs: 20_000 });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i);
  });

  it('pins in the cluster repository the same host keys the hosts present', async () => {
    const repo = handle.lab.clusterRepo!;
    assert.equal(execFileSync('git', ['-C', repo, 'status', '--porcelain'], { encoding: 'utf8' }), '');
    assert.equal(execFileSync('git', ['-C', repo, 'rev-parse', '--abbrev-ref', 'HEAD'], { encoding: 'utf8' }).trim(), 'main');
    for (const node of handle.lab.nodes) {
      const manifest = readFileSync(join(repo, 'nodes', `${node.name}.yaml`), 'utf8');
      const scanned = (await run(['ssh-keyscan', '-t', 'ed25519', node.address], { timeoutMs: 10_000 })).stdout.trim().split(' ').slice(1).join(' ');
      assert.ok(scanned.startsWith('ssh-ed25519 '), `ssh-keyscan ${node.address} gave no ed25519 key`);
      assert.ok(manifest.includes(`- ${scanned}\n`), `nodes/${node.name}.yaml does not pin ${scanned}:\n${manifest}`);
    }
  });

  it('writes a cluster repository of the examples plus lab nodes that the manifest loader accepts without a diagnostic', () => {
    const repo = handle.lab.clusterRepo!;
    const files = execFileSync('git', ['-C', repo, 'ls-files'], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(files.sort(), ['apps/hello/server.js', 'cluster.yaml', 'namespace.yaml', 'nodes/h1.yaml', 'nodes/h2.yaml']);
    const sources = files.filter((f) => f.endsWith('.yaml')).map((path) => ({ path, text: readFileSync(join(repo, path), 'utf8') }));
    const { store, diagnostics } = loadManifests(sources);
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(store.list('Node').map((n) => n.metadata.name).sort(), ['h1', 'h2']);
  });

  it('builds an examples app into an image that serves on every host', async () => {
    for (const node of handle.lab.nodes) {
      const started = await labExec(handle.lab, node.name, ['podman', 'run', '-d', '--init', '--name', 'hello', 'coxswain-examples/hello:1'], { timeoutMs: 60_000 });
      assert.equal(started.code, 0, started.stderr);
      try {
        const ip = (await labExec(handle.lab, node.name, ['podman', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'hello'])).stdout.trim();
        assert.ok(ip.startsWith(node.podCIDR.split('.').slice(0, 3).join('.') + '.'), `container IP ${ip} outside ${node.podCIDR}`);
        const body = await waitFor(`hello on ${node.name} to answer at ${ip}:8080`, async () => {
          const r = await labExec(handle.lab, node.name, ['timeout', '3', 'busybox', 'wget', '-qO-', `http://${ip}:8080/`], { timeoutMs: 5_000 });
          return r.code === 0 ? r.stdout : undefined;
        }, 20_000);
        assert.equal(body, `hello from ${started.stdout.trim().slice(0, 12)}\n`);
      } finally {
        await labExec(handle.lab, node.name, ['podman', 'rm', '-f', '-t', '0', 'hello'], { timeoutMs: 30_000 });
      }
    }
  });

  it('serves the Docker Engine API from podman inside each host', async () => {
    for (const node of handle.lab.nodes) {
      const script = "require('http').get({socketPath:'/run/podman/podman.sock',path:'/version'},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(JSON.parse(b).ApiVersion))})";
      const result = await labExec(handle.lab, node.name, ['node', '-e', script], { timeoutMs: 20_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout.trim(), /^1\.\d+$/);
    }
  });

  it('runs a coxswain/busybox:1 container on the host pod subnet through the Docker API', async () => {
    const socket = labPodmanSocket(handle.lab, 'h2');
    const create = await docker(socket, 'POST', '/containers/create?name=lab-test', { Image: 'coxswain/busybox:1', Cmd: ['sh', '-c', 'echo hello from $(hostname); ip -4 -o addr show eth0'], HostConfig: { Init: true } });
    assert.equal(create.status, 201, create.text);
    const id = create.json().Id as string;
    try {
      assert.equal((await docker(socket, 'POST', `/containers/${id}/start`)).status, 204);
      const wait = await docker(socket, 'POST', `/containers/${id}/wait`);
      assert.equal(wait.json().StatusCode, 0, wait.text);
      const logs = (await docker(socket, 'GET', `/containers/${id}/logs?stdout=1&stderr=1`)).text;
      assert.match(logs, /hello from/);
      assert.match(logs, /inet 100\.64\.2\.\d+\//, `container address not in h2's pod subnet: ${logs}`);
    } finally {
      await docker(socket, 'DELETE', `/containers/${id}?force=1`);
    }
  });

  it('has the node image on every host without a registry', async () => {
    const result = await labExec(handle.lab, 'h1', ['podman', 'run', '--rm', 'coxswain/node:20', 'node', '-e', 'console.log(process.versions.node)'], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), process.versions.node);
  });

  it('keeps the agent state, program and log directories of each host to itself', async () => {
    const marker = `lab-test-${process.pid}`;
    for (const dir of ['/var/lib/coxswain', '/usr/local/lib/coxswain', '/var/log']) {
      const wrote = await labExec(handle.lab, 'h1', ['sh', '-c', `echo h1 > ${dir}/${marker}`]);
      assert.equal(wrote.code, 0, wrote.stderr);
      assert.equal((await labExec(handle.lab, 'h1', ['cat', `${dir}/${marker}`])).stdout, 'h1\n');
      assert.notEqual((await labExec(handle.lab, 'h2', ['test', '-e', `${dir}/${marker}`])).code, 0, `h2 sees h1's ${dir}`);
      assert.equal(existsSync(`${dir}/${marker}`), false, `the machine sees h1's ${dir}`);
    }
  });

  it('lets hosts reach each other on the lab network', async () => {
    const [h1, h2] = handle.lab.nodes;
    const ping = await labExec(handle.lab, 'h1', ['busybox', 'ping', '-c', '1', '-W', '2', h2.address], { timeoutMs: 10_000 });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const tcp = await labExec(handle.lab, 'h2', ['sh', '-c', `echo | busybox nc -w 2 ${h1.address} 22`], { timeoutMs: 10_000 });
    assert.match(tcp.stdout, /^SSH-2\.0-/);
  });

  it('routes nothing out of the lab: no way out from a host, guard routes and a dropping nft table in the root namespace', async () => {
    const out = await labExec(handle.lab, 'h1', ['ip', 'route', 'get', '192.0.2.1']);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /unreachable/i);
    for (const cidr of ['198.18.0.0/15', '100.64.0.0/10']) {
      assert.match((await run(['ip', 'route', 'show', 'type', 'unreachable'])).stdout, new RegExp(`^unreachable ${cidr.replace(/\./g, '\\.')}`, 'm'));
    }
    const probe = await run(['ip', 'route', 'get', `198.18.${(INDEX + 100) % 256}.20`]);
    assert.ok(probe.code !== 0 || /unreachable/.test(probe.stdout), `an unused lab address is routable: ${probe.stdout}`);
    const table = (await run(['nft', 'list', 'table', 'inet', `coxlab${INDEX}`])).stdout;
    assert.match(table, new RegExp(`iifname "coxbr${INDEX}" oifname != "coxbr${INDEX}" drop`));
  });

  it('reports the lab through cox lab status -o json and runs commands through cox lab exec with their exit code', async () => {
    const cli = join(import.meta.dirname, '../../bin/cox.mjs');
    const status = await run(['node', cli, 'lab', 'status', '--dir', handle.dir, '-o', 'json'], { timeoutMs: 60_000 });
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout);
    assert.equal(report.healthy, true);
    assert.equal(report.clusterRepo, handle.lab.clusterRepo);
    assert.deepEqual(report.nodes.map((n: any) => [n.name, n.address, n.podCIDR, n.pid, n.ssh, n.podman]), handle.lab.nodes.map((n) => [n.name, n.address, n.podCIDR, n.pid, true, true]));
    const exec = await run(['node', cli, 'lab', 'exec', 'h2', '--dir', handle.dir, '--', 'sh', '-c', 'hostname; exit 7'], { timeoutMs: 30_000 });
    assert.equal(exec.code, 7);
    assert.equal(exec.stdout, 'h2\n');
  });

  it('tears down and leaves no netns, link, route, nft table or process behind', async () => {
    const lab = handle.lab;
    const pids = lab.nodes.map((n) => n.pid);
    await labDown(lab);
    assert.deepEqual(await leftovers(INDEX, pids), []);
    assert.equal(readLab(lab.dir), undefined);
    assert.equal(existsSync(join(lab.dir, 'hosts')), false);
  });
});

describe('the lab after a crashed run (index 1)', function () {
  this.timeout(180_000);
  const dir = labFixtureDir(INDEX);
  let lab: Lab | undefined;

  after(async function () {
    this.timeout(60_000);
    if (lab) await labDown(lab);
  });

  it('comes up over the hosts, links and table a run that never tore down left behind, and then leaves nothing', async () => {
    const cli = join(import.meta.dirname, '../../bin/cox.mjs');
    const up = await run(['node', cli, 'lab', 'up', '--nodes', '1', '--index', String(INDEX), '--dir', dir, '-o', 'json'], { timeoutMs: 120_000 });
    assert.equal(up.code, 0, up.stderr);
    const crashed = JSON.parse(up.stdout) as { nodes: { pid: number }[] };
    const stalePids = crashed.nodes.map((n) => n.pid);
    assert.ok(stalePids.every(isAlive));

    lab = await labUp({ name: 'after-crash', index: INDEX, nodes: 2, dir, clusterRepo: false });
    assert.ok(stalePids.every((pid) => !isAlive(pid)), 'the stale host is still running');
    assert.equal((await labExec(lab, 'h2', ['hostname'])).stdout.trim(), 'h2');

    const pids = lab.nodes.map((n) => n.pid);
    await labDown(lab);
    lab = undefined;
    assert.deepEqual(await leftovers(INDEX, [...stalePids, ...pids]), []);
  });
});
