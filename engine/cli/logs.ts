/**
 * `cox logs POD [-n NS] [-c CONTAINER] [-f] [--tail N] [--repo DIR]
 *           [--branch B] [--status-branch S] [--ssh-key FILE]`
 *
 * Finds the pod's node on the status branch and the node's SSH address and
 * pinned keys in the desired branch, then streams the container's log from
 * that host's agent over SSH (the same path the engine uses: no port opened
 * on the host). With -f it follows until interrupted.
 */
import path from 'node:path';
import { ConfigError, UsageError } from '../../common/errors.ts';
import { parse } from './args.ts';
import { git } from './gitcli.ts';
import type { CommandIO } from './main.ts';

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n', default: 'default' },
    container: { type: 'string', short: 'c' },
    follow: { type: 'boolean', short: 'f', default: false },
    tail: { type: 'string' },
    repo: { type: 'string', default: '.' },
    branch: { type: 'string', default: 'main' },
    'status-branch': { type: 'string', default: 'coxswain/status' },
    'ssh-key': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('expected one argument: POD (e.g. cox logs web-5d8f-x2k)');
  const name = positionals[0].replace(/^(pod|pods|po)\//, '');
  const tail = values.tail === undefined ? undefined : Number(values.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UsageError(`--tail ${values.tail}: expected a whole number`);
  const repo = path.resolve(io.cwd, values.repo!);
  const namespace = values.namespace!;

  const { readStatus } = await import('../status/read.ts');
  const { statusBranchRef } = await import('./status-branch.ts');
  const observed = await readStatus(repo, await statusBranchRef(repo, values['status-branch']!));
  const pod = [...observed.pods.values()].find((p) => p.metadata.name === name && p.metadata.namespace === namespace);
  if (!pod) throw new ConfigError(`pod ${namespace}/${name} is not on the status branch ${values['status-branch']} (see: cox get pods -n ${namespace})`);
  const nodeName = pod.spec.nodeName;
  if (!nodeName) throw new ConfigError(`pod ${namespace}/${name} is not bound to a node yet`);

  const node = await nodeManifest(repo, values.branch!, nodeName);
  const { loadClientAuth } = await import('../hosts/ssh.ts');
  const { HostManager } = await import('../hosts/manager.ts');
  const auth = await loadClientAuth(values['ssh-key'] ? path.resolve(io.cwd, values['ssh-key']) : undefined, io.env);
  const hosts = new HostManager({ auth, watchTimeoutSeconds: 1 });
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    const connected = new Promise<void>((resolve, reject) => {
      hosts.subscribe((event) => {
        if (event.type === 'connected') resolve();
        if (event.type === 'connection' && event.connection.state === 'refused') reject(new ConfigError(event.connection.reason));
      });
      setTimeout(() => reject(new ConfigError(`${nodeName}: ${describeStatus(hosts.status(nodeName))} after 20 s`)), 20_000).unref();
    });
    hosts.sync([node as never]);
    await connected;
    const stream = await hosts.logs(nodeName, namespace, name, { container: values.container, follow: values.follow, tail, signal: abort.signal });
    try {
      for await (const chunk of stream) io.stdout(Buffer.from(chunk as Buffer).toString('utf8'));
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    await hosts.close();
  }
}

function describeStatus(status: { state: string; reason?: string } | undefined): string {
  if (!status) return 'unknown';
  return status.reason ?? status.state;
}

/** The Node object from the desired branch's tip (validated like the engine reads it). */
async function nodeManifest(repo: string, branch: string, nodeName: string): Promise<unknown> {
  const tip = (await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { allowFailure: true })).stdout.trim();
  if (!tip) throw new ConfigError(`${repo}: no branch ${branch}`);
  const { DesiredLoader } = await import('../source/loader.ts');
  const { resolveGitDir } = await import('../status/git.ts');
  const loaded = await new DesiredLoader(resolveGitDir(repo)).load(tip);
  const node = loaded.store.get('Node', undefined, nodeName);
  if (!node) throw new ConfigError(`node ${nodeName} is not defined on ${branch} (nodes/${nodeName}.yaml)`);
  return node;
}
