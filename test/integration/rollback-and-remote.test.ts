/**
 * Paths of the product a user takes, in a real lab (index 8, 2 hosts):
 *
 * - `cox rollback deployment/NAME` as a user runs it against the repository a
 *   running engine follows: one new commit on the desired branch restores
 *   version A, the engine serves A again through the VIP, and the status
 *   branch and `cox history` tie the change to the rollback commit.
 * - `cox engine --repo URL`: the engine mirrors a repository served over real
 *   smart HTTP (`git http-backend`), pushes its status commits back to it by
 *   compare-and-swap (a commit someone else pushed to the status branch
 *   survives), and a push webhook signed with the secret deploys a new commit
 *   long before the fetch interval; a wrongly signed one gets 401 and fetches
 *   nothing; a preview ref pushed there runs in its namespace and goes away
 *   with the ref. Its --metrics endpoint says which commit is applied.
 * - `cox engine --once`: exit 0 with where the pods run once all are Ready;
 *   exit 1 naming the pod whose image cannot be pulled (old pods keep serving).
 * - `cox logs -f`: follows a growing container log over SSH, stops on Ctrl-C.
 *
 * Every check looks at the hosts (a request through the VIP from inside a
 * host) or at the repositories, and waits with a deadline.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { git } from '../../engine/cli/gitcli.ts';
import { signBody } from '../../engine/source/webhook.ts';
import { startGitHttpServer, type GitHttpServer } from '../../engine/source/git-http-server.ts';
import { labIndex, useLab } from './lab-fixture.ts';
import { ClusterRepo, PROJECT_ROOT, getThroughVip, isReady, livePods, startEngine, waitFor, webApp, type EngineProcess } from './e2e-harness.ts';

const INDEX = labIndex(8);
const VIP = '100.127.0.80';
const TOKEN = 'lab-token-rollback-and-remote';
const SECRET = 'lab-webhook-secret';
const TICKER = `apiVersion: apps/v1
kind: Deployment
metadata: {name: ticker}
spec:
  replicas: 1
  selector: {matchLabels: {app: ticker}}
  template:
    metadata: {labels: {app: ticker}}
    spec:
      containers:
        - name: ticker
          image: coxswain/busybox:1
          command: [sh, -c, 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.5; done']
`;
const identity = { GIT_AUTHOR_NAME: 'someone else', GIT_AUTHOR_EMAIL: 'else@coxswain.invalid', GIT_COMMITTER_NAME: 'someone else', GIT_COMMITTER_EMAIL: 'else@coxswain.invalid' };

describe(`cox rollback, cox engine --repo URL, --once and cox logs -f in the lab (index ${INDEX})`, function () {
  this.timeout(240_000);
  const handle = useLab({ index: INDEX, nodes: 2, name: 'rollback-remote' });
  let repo: ClusterRepo;
  let engine: EngineProcess | undefined;
  let logFile: string;

  const nodes = () => handle.lab.nodes.map((n) => n.name);

  async function servesEverywhere(version: string): Promise<void> {
    for (const node of nodes()) {
      await waitFor(`the VIP to answer ${version} from ${node}`, async () => (await getThroughVip(handle.lab, node, VIP))?.includes(` ${version}`) ?? false, 60_000);
    }
  }

  async function readyWebPods(status: () => Promise<Awaited<ReturnType<ClusterRepo['status']>>>, version: string) {
    return waitFor(`2 ready web pods of ${version} and nothing else of web`, async () => {
      const observed = await status();
      const pods = livePods(observed, 'web-');
      const all = [...observed.pods.values()].filter((p) => p.metadata.namespace === 'default' && p.metadata.name.startsWith('web-'));
      return pods.length === 2 && all.length === 2 && pods.every((p) => isReady(p) && JSON.stringify(p.spec).includes(`"${version}"`)) ? pods : false;
    }, 120_000);
  }

  before(async function () {
    this.timeout(120_000);
    repo = new ClusterRepo(handle.lab.clusterRepo!);
    logFile = path.join(handle.dir, 'engine.log');
    rmSync(logFile, { force: true });
    for (const entry of (await git(repo.dir, ['ls-files'])).stdout.split('\n').filter(Boolean)) {
      if (!entry.startsWith('nodes/') && entry !== 'cluster.yaml') repo.remove(entry);
    }
    await repo.commit('start from the nodes and the cluster only');
  });

  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && engine) process.stderr.write(`\n--- engine log (tail) ---\n${engine.log().split('\n').slice(-40).join('\n')}\n`);
  });

  it('cox rollback: a new commit on the desired branch restores version A, the engine serves A again and history names the rollback', async () => {
    engine = startEngine({ repo: repo.dir, sshKey: handle.lab.clientKeyPath, logFile });
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vA', vip: VIP }));
    const a = await repo.commit('web vA');
    await readyWebPods(() => repo.status(), 'vA');
    await servesEverywhere('vA');
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vB', vip: VIP }));
    const b = await repo.commit('web vB');
    await readyWebPods(() => repo.status(), 'vB');
    await servesEverywhere('vB');

    const rolled = await cox(['rollback', 'deployment/web', '-o', 'json'], repo.dir);
    assert.equal(rolled.code, 0, rolled.stderr);
    const result = JSON.parse(rolled.stdout) as { commit: string; branch: string; files: string[]; restoredFrom: string; undoes: string };
    assert.deepEqual({ branch: result.branch, files: result.files, restoredFrom: result.restoredFrom, undoes: result.undoes }, { branch: 'main', files: ['apps/web.yaml'], restoredFrom: a, undoes: b });
    assert.equal((await git(repo.dir, ['rev-parse', 'main'])).stdout.trim(), result.commit, 'main moved to the rollback commit');
    assert.equal((await git(repo.dir, ['rev-parse', 'main^'])).stdout.trim(), b, 'one commit on top of vB, history not rewritten');
    assert.equal((await git(repo.dir, ['show', 'main:apps/web.yaml'])).stdout, (await git(repo.dir, ['show', `${a}:apps/web.yaml`])).stdout);
    assert.equal((await git(repo.dir, ['status', '--porcelain'])).stdout, '', 'the checked-out worktree follows and stays clean');

    await readyWebPods(() => repo.status(), 'vA');
    await servesEverywhere('vA');
    const statusLog = (await git(repo.dir, ['log', '--format=%B', 'coxswain/status'])).stdout;
    assert.match(statusLog, new RegExp(`Coxswain-Desired: ${result.commit}`), 'a status commit reconciled the rollback commit');

    const rollout = await cox(['rollout', 'status', 'deployment/web', '--timeout', '60'], repo.dir);
    assert.equal(rollout.code, 0, rollout.stdout + rollout.stderr);
    const history = await cox(['history', 'deployment/web', '-o', 'json'], repo.dir);
    assert.equal(history.code, 0, history.stderr);
    const records = JSON.parse(history.stdout) as Array<{ desiredCommit?: string; desiredSubject?: string; changes: string[] }>;
    const entry = records.find((r) => r.desiredCommit === result.commit);
    assert.ok(entry, `cox history deployment/web has an entry caused by the rollback commit:\n${history.stdout}`);
    assert.equal(entry.desiredSubject, `Roll back deployment/web to ${a.slice(0, 12)}`);
    assert.ok(entry.changes.length > 0, 'the entry says what changed');
    await engine.stop();
  });

  describe('cox engine --repo URL (smart HTTP, push webhook)', () => {
    let server: GitHttpServer;
    let remoteDir: string;
    let remote: ClusterRepo;
    let webhookUrl: string;
    let url: string;

    let workdir: string;
    const uploadPackRequests = () => server.requests.filter((r) => r.includes('git-upload-pack')).length;
    /** Where the engine's own mirror has main: it moves only when the engine fetched it. */
    const mirroredMain = async () => (await git(path.join(workdir, 'desired.git'), ['rev-parse', 'refs/heads/main'])).stdout.trim();

    /** A push webhook as GitHub sends it. */
    async function sendWebhook(body: string, signature: string): Promise<number> {
      const response = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature }, body });
      await response.text();
      return response.status;
    }

    before(async function () {
      this.timeout(90_000);
      const projectRoot = path.join(handle.dir, 'served');
      rmSync(projectRoot, { recursive: true, force: true });
      mkdirSync(projectRoot, { recursive: true });
      remoteDir = path.join(projectRoot, 'cluster.git');
      await git(projectRoot, ['init', '-q', '--bare', '-b', 'main', remoteDir]);
      // The repository with everything the local engine did so far: the URL engine takes over from its status branch.
      await git(repo.dir, ['push', '-q', remoteDir, 'main', 'coxswain/status']);
      remote = new ClusterRepo(remoteDir);
      server = await startGitHttpServer(projectRoot, TOKEN);
      url = server.url('cluster.git');
      const saved = { token: process.env.COX_GIT_TOKEN, secret: process.env.COX_WEBHOOK_SECRET };
      process.env.COX_GIT_TOKEN = TOKEN;
      process.env.COX_WEBHOOK_SECRET = SECRET;
      try {
        workdir = path.join(handle.dir, 'engine-state');
        rmSync(workdir, { recursive: true, force: true });
        engine = startEngine({ repo: url, sshKey: handle.lab.clientKeyPath, logFile, extraArgs: ['--workdir', workdir, '--fetch-interval', '600', '--webhook', '127.0.0.1:0', '--metrics', '127.0.0.1:0'] });
      } finally {
        for (const [name, value] of [['COX_GIT_TOKEN', saved.token], ['COX_WEBHOOK_SECRET', saved.secret]] as const) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
      const listening = waitFor('the engine to listen for webhooks', async () => {
        const line = engine!.log().split('\n').find((l) => l.includes('"webhook.listening"'));
        return line ? (JSON.parse(line) as { url: string }).url : false;
      }, 60_000);
      const exited = engine.exited.then((code) => Promise.reject(new Error(`cox engine exited with ${code}:\n${engine!.log().split('\n').slice(-5).join('\n')}`)));
      exited.catch(() => {}); // only the race below cares; the engine is stopped later on purpose
      webhookUrl = await Promise.race([listening, exited]);
    });

    after(async function () {
      this.timeout(60_000);
      await engine?.stop();
      await server?.close();
    });

    it('fetches the branch over smart HTTP with the token and keeps serving what it deployed', async () => {
      assert.ok(uploadPackRequests() > 0, `the engine fetched over smart HTTP: ${server.requests.join(', ')}`);
      await readyWebPods(() => remote.status(), 'vA');
      await servesEverywhere('vA');
    });

    it('a wrongly signed webhook gets 401 and fetches nothing; a signed one deploys the pushed commit long before the fetch interval, and status goes back to the URL by compare-and-swap', async () => {
      // Someone else moves the remote's status branch: the engine's next push is rejected and must keep this commit.
      const statusTip = (await git(remoteDir, ['rev-parse', 'coxswain/status'])).stdout.trim();
      const tree = (await git(remoteDir, ['rev-parse', 'coxswain/status^{tree}'])).stdout.trim();
      const foreign = (await git(remoteDir, ['commit-tree', tree, '-p', statusTip, '-m', 'a note from someone else'], { env: identity })).stdout.trim();
      await git(remoteDir, ['update-ref', 'refs/heads/coxswain/status', foreign, statusTip]);

      // The user pushes version C.
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vC', vip: VIP }));
      const c = await repo.commit('web vC');
      await git(repo.dir, ['push', '-q', remoteDir, 'main']);
      const body = JSON.stringify({ ref: 'refs/heads/main', after: c });

      assert.equal(await sendWebhook(body, signBody('not the secret', body)), 401);
      assert.equal(await sendWebhook(body, ''), 401);
      // Nothing is fetched: watched for longer than a signed webhook takes to get the commit fetched (well under 5 s).
      await assert.rejects(waitFor('main fetched after a refused webhook', async () => (await mirroredMain()) === c, 5_000), /timed out after 5000 ms/);
      assert.ok(!engine!.log().includes(c), 'the engine never heard of the pushed commit');

      // The deadlines below (2 min) are far shorter than the fetch interval (10 min): only the webhook can have done it.
      assert.equal(await sendWebhook(body, signBody(SECRET, body)), 202);
      await waitFor('the engine to fetch and load the pushed commit', async () => (await mirroredMain()) === c && engine!.log().split('\n').some((l) => l.includes('"desired.loaded"') && l.includes(c)), 30_000);
      await readyWebPods(() => remote.status(), 'vC');
      await servesEverywhere('vC');

      const statusLog = (await git(remoteDir, ['log', '--format=%H %B', 'coxswain/status'])).stdout;
      assert.match(statusLog, new RegExp(`Coxswain-Desired: ${c}`), 'the status commit reconciling vC was pushed to the URL');
      const ancestor = await git(remoteDir, ['merge-base', '--is-ancestor', foreign, 'coxswain/status'], { allowFailure: true });
      assert.equal(ancestor.code, 0, 'the commit someone else pushed to the status branch is kept (compare-and-swap, never forced)');
      assert.ok(server.requests.some((r) => r.includes('git-receive-pack')), 'status went back over smart HTTP');
      const fsck = await git(remoteDir, ['fsck', '--strict', '--no-progress'], { allowFailure: true });
      assert.equal(fsck.code, 0, fsck.stderr);

      // What a monitoring system scrapes says the same.
      const metricsLine = engine!.log().split('\n').find((l) => l.includes('"metrics.listening"'));
      assert.ok(metricsLine, 'the engine logged where --metrics listens');
      const metrics = await (await fetch((JSON.parse(metricsLine) as { url: string }).url)).text();
      assert.match(metrics, new RegExp(`^coxswain_desired_commit_info\\{commit="${c}"\\} 1$`, 'm'));
      assert.ok(Number(/^coxswain_status_commits_total (\d+)$/m.exec(metrics)?.[1]) > 0, `status commits counted:\n${metrics}`);
    });

    it('a preview ref pushed to the URL runs in namespace pr-5 after its webhook, and goes away with the ref', async () => {
      const original = repo.read('apps/web.yaml');
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vPR', vip: VIP }));
      const preview = await repo.propose('preview: web vPR');
      repo.write('apps/web.yaml', original);
      await git(repo.dir, ['add', '-A']);
      const ref = 'refs/coxswain/previews/pr-5';
      await git(repo.dir, ['push', '-q', remoteDir, `${preview}:${ref}`]);
      const body = JSON.stringify({ ref, after: preview });
      assert.equal(await sendWebhook(body, signBody(SECRET, body)), 202);
      const pods = await waitFor('the preview pod Ready in pr-5 on the URL\'s status branch', async () => {
        const live = livePods(await remote.status(), 'web-', 'pr-5');
        return live.length === 1 && isReady(live[0]) && JSON.stringify(live[0].spec).includes('"vPR"') ? live : false;
      }, 120_000);
      assert.equal(pods.length, 1, 'the preview policy allows one replica');
      await servesEverywhere('vC');

      await git(remoteDir, ['update-ref', '-d', ref]);
      const deleted = JSON.stringify({ ref, after: '0'.repeat(40), deleted: true });
      assert.equal(await sendWebhook(deleted, signBody(SECRET, deleted)), 202);
      await waitFor('no pod left in pr-5', async () => [...(await remote.status()).pods.values()].every((p) => p.metadata.namespace !== 'pr-5'), 120_000);
    });
  });

  describe('cox engine --once', () => {
    before(async function () {
      this.timeout(60_000);
      await engine?.stop();
      // The URL engine's status commits, so the next engine starts from everything observed so far.
      await git(repo.dir, ['fetch', '-q', path.join(handle.dir, 'served', 'cluster.git'), '+coxswain/status:coxswain/status']);
    });

    it('exits 0 once every pod of the commit is Ready, says where they run, and leaves them serving', async () => {
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vD', vip: VIP }));
      const d = await repo.commit('web vD');
      const once = await cox(['engine', '--repo', repo.dir, '--ssh-key', handle.lab.clientKeyPath, '--once', '--timeout', '150'], repo.dir);
      assert.equal(once.code, 0, once.stdout + once.stderr.split('\n').slice(-10).join('\n'));
      assert.match(once.stdout, new RegExp(`^${d.slice(0, 12)}: 2 pods ready on h\\d(, h\\d)?\n$`));
      await servesEverywhere('vD');
    });

    it('exits 1 and names the pod whose image cannot be pulled, while the old pods keep serving', async () => {
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vD', vip: VIP }).replace('coxswain/busybox:1', 'coxswain/no-such-image:1'));
      const e = await repo.commit('web: an image no host has');
      const once = await cox(['engine', '--repo', repo.dir, '--ssh-key', handle.lab.clientKeyPath, '--once', '--timeout', '150'], repo.dir);
      assert.equal(once.code, 1, once.stdout + once.stderr.split('\n').slice(-10).join('\n'));
      const [summary, ...failed] = once.stdout.trimEnd().split('\n');
      assert.match(summary, new RegExp(`^${e.slice(0, 12)}: 2 pods ready on .*, 1 failed$`));
      assert.equal(failed.length, 1, once.stdout);
      assert.match(failed[0], /^default\/web-[a-z0-9]+-[a-z0-9]+ on h\d: container web: (ErrImagePull|ImagePullBackOff)/);
      await servesEverywhere('vD');
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'vD', vip: VIP }));
      await repo.commit('web: back to an image the hosts have');
    });
  });

  describe('cox logs -f', () => {
    it('follows a container\'s log as it grows, over SSH through the agent, and stops cleanly on Ctrl-C', async () => {
      repo.write('apps/ticker.yaml', TICKER);
      await repo.commit('a ticker that logs twice a second');
      const once = await cox(['engine', '--repo', repo.dir, '--ssh-key', handle.lab.clientKeyPath, '--once', '--timeout', '150'], repo.dir);
      assert.equal(once.code, 0, once.stdout + once.stderr.split('\n').slice(-10).join('\n'));
      const pod = livePods(await repo.status(), 'ticker-')[0];
      assert.ok(pod, 'the ticker pod is on the status branch after --once');

      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/cox.mjs'), 'logs', pod.metadata.name, '-f', '--ssh-key', handle.lab.clientKeyPath], { cwd: repo.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      let errors = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (errors += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const lastTick = () => Math.max(-1, ...[...output.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1])));
      try {
        const first = await waitFor('the first ticks', () => (lastTick() >= 0 ? lastTick() : false), 30_000);
        await waitFor(`ticks after ${first} while following (stderr: ${errors})`, () => lastTick() >= first + 4, 30_000);
        const ticks = [...output.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
        assert.deepEqual(ticks, ticks.map((_t, i) => ticks[0] + i), 'every line once, in order');
        child.kill('SIGINT');
        const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running 10 s after SIGINT'), 10_000))]);
        assert.equal(code, 0, errors);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  });
});

/** `cox COMMAND` as a user runs it, in the cluster repository. */
async function cox(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'bin/cox.mjs'), ...args], { cwd, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(err) };
  }
}
