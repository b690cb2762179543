/**
 * Wires the real layers to the loop's ports: the desired source (engine/source),
 * the host manager (engine/hosts), the status writer (engine/status) and the
 * controllers (engine/controllers). The one place that knows all of them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildAgentBundle } from '../../agent/bundle.ts';
import { describeError } from '../../common/errors.ts';
import { reconcile } from '../controllers/index.ts';
import { HostManager } from '../hosts/manager.ts';
import { loadClientAuth } from '../hosts/ssh.ts';
import type { Logger } from '../log.ts';
import type { EngineMetrics } from '../metrics.ts';
import type { ObservedState } from '../model.ts';
import { readStatus } from '../status/read.ts';
import { StatusWriter } from '../status/writer.ts';
import { Engine } from './index.ts';
import type { HostFleet, ReconcileFn, StatusCause, StatusSink } from './ports.ts';
import { openDesiredFeed } from './source-feed.ts';

export interface BuildOptions {
  repo: string;
  branch: string;
  statusBranch: string;
  sshKey?: string;
  workdir?: string;
  /** URL mode: fetch this often (default 30 s). */
  fetchIntervalMs?: number;
  /** Changes within this window share one status commit (default: the writer's, 500 ms). */
  statusWindowMs?: number;
  log: Logger;
  metrics: EngineMetrics;
  env?: NodeJS.ProcessEnv;
}

export interface BuiltEngine {
  engine: Engine;
  /** The local repository the engine reads and writes status to (a clone for a URL). */
  repoDir: string;
  /** The GitHub push webhook's HTTP handler (URL mode: a signed push fetches at once). */
  webhook: (secret: string) => (req: IncomingMessage, res: ServerResponse) => void;
}

/** The status writer behind the loop's StatusSink, counting commits for metrics and logging them. */
export function statusSink(writer: StatusWriter, metrics: EngineMetrics, log: Logger): StatusSink {
  return {
    update(observed: ObservedState, cause: StatusCause) {
      // Coxswain-Desired names an applied (valid) commit or nothing: a refused commit only ever goes in Coxswain-Refused.
      writer.update(observed, { desiredCommit: cause.desiredCommit, reason: cause.reason, refusedCommit: cause.refusedCommit });
    },
    async flush() {
      return (await writer.flush())?.oid;
    },
    close: () => writer.close(),
  };
}

/** The controllers' reconcile behind the loop's ReconcileFn port. */
export const reconcileFn: ReconcileFn = (input) => reconcile({ ...input, desired: input.desired as unknown as Parameters<typeof reconcile>[0]['desired'] });

export async function buildEngine(options: BuildOptions): Promise<BuiltEngine> {
  const { log, metrics } = options;
  const feed = await openDesiredFeed({ repo: options.repo, branch: options.branch, workdir: options.workdir, fetchIntervalMs: options.fetchIntervalMs, log, env: options.env ?? process.env });
  const repoDir = feed.repoDir;
  const auth = await loadClientAuth(options.sshKey, options.env ?? process.env);
  const bundle = await buildAgentBundle();
  log.info('agent.bundle', { build: bundle.build.slice(0, 12), bytes: bundle.contents.length });

  const writer = await StatusWriter.open({
    repoDir,
    branch: options.statusBranch,
    windowMs: options.statusWindowMs,
    // A URL's status branch is pushed back to it (compare-and-swap, never forced).
    remote: feed.remote,
    onCommit: (commit) => {
      metrics.statusCommits.inc();
      log.info('status.committed', { commit: commit.oid, changes: commit.changes.length, subject: commit.message.split('\n')[0] });
    },
    onError: (err) => log.error('status.commit-failed', { error: describeError(err) }),
  });

  // After the writer opened: for a URL it has just fetched the remote's status branch, the engine's memory.
  const initialObserved = await readStatus(repoDir, options.statusBranch);
  log.info('status.restored', { pods: initialObserved.pods.size, nodes: initialObserved.nodes.size, appliedCommit: initialObserved.appliedCommit });

  // Every watch answer is a heartbeat: long-polls that return at least every 2 s keep nodes
  // Ready within the default grace period whatever the agent's own heartbeat interval.
  const hosts = new HostManager({ auth, bundle, watchTimeoutSeconds: 2, onProgress: (line) => log.info('hosts.progress', { message: line }) });
  const fleet: HostFleet = {
    sync: (nodes) => hosts.sync(nodes),
    subscribe: (listener) => void hosts.subscribe(listener),
    putDesired: (node, state) => hosts.putDesired(node, state),
    close: () => hosts.close(),
  };
  const engine = new Engine({ feed, fleet, status: statusSink(writer, metrics, log), reconcile: reconcileFn, initialObserved, log, metrics });
  return { engine, repoDir, webhook: feed.webhook };
}
