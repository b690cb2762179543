/**
 * `cox rollback deployment/NAME [-n NS] [--to REV] [--repo DIR] [--branch B]`
 *
 * Makes one new commit on the desired branch that restores the file(s)
 * holding the Deployment as they were at REV — by default, as they were just
 * before the last commit that changed them. History is never rewritten: the
 * commit is built with plumbing on a temporary index and the branch moves by
 * compare-and-swap; a checked-out worktree gets the restored files too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError, GitError, UsageError } from '../../common/errors.ts';
import { isManifestPath } from '../source/tree.ts';
import { parse, outputFormat } from './args.ts';
import { git } from './gitcli.ts';
import type { CommandIO } from './main.ts';

export interface RollbackRequest {
  repo: string;
  branch: string;
  namespace: string;
  name: string;
  to?: string;
}

export interface RollbackResult {
  commit: string;
  branch: string;
  files: string[];
  restoredFrom: string;
  /** The commit whose change is undone (when --to was not given). */
  undoes?: string;
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n', default: 'default' },
    to: { type: 'string' },
    repo: { type: 'string', default: '.' },
    branch: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  const format = outputFormat(values.output, ['text', 'json'] as const, 'text');
  if (positionals.length !== 1) throw new UsageError('expected one argument: deployment/NAME');
  const match = /^(?:deployment|deployments|deploy)(?:\.apps)?\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(positionals[0]);
  if (!match) throw new UsageError(`${positionals[0]}: expected deployment/NAME`);
  const repo = path.resolve(io.cwd, values.repo!);
  const branch = values.branch ?? (await currentBranch(repo));
  const result = await rollback({ repo, branch, namespace: values.namespace!, name: match[1], to: values.to });
  if (format === 'json') io.stdout(`${JSON.stringify(result)}\n`);
  else io.stdout(`deployment/${match[1]} rolled back: ${result.files.join(', ')} restored from ${result.restoredFrom.slice(0, 12)} in commit ${result.commit.slice(0, 12)} on ${result.branch}\n`);
  return 0;
}

async function currentBranch(repo: string): Promise<string> {
  const head = await git(repo, ['symbolic-ref', '--quiet', '--short', 'HEAD'], { allowFailure: true });
  if (head.code !== 0) throw new ConfigError(`${repo}: HEAD is not on a branch; pass --branch`);
  return head.stdout.trim();
}

/**
 * Manifest files of a tree (the engine's rule: *.yaml, *.yml, *.json outside
 * hidden directories) that hold `Deployment namespace/name`, multi-document
 * YAML and JSON alike. Only files that mention the name are parsed: one
 * `git grep` finds them, so a repository of thousands of files costs one
 * process, not one per file.
 */
export async function filesDefining(repo: string, rev: string, namespace: string, name: string): Promise<string[]> {
  const grep = await git(repo, ['grep', '-l', '-z', '-F', '-e', name, rev, '--'], { allowFailure: true });
  if (grep.code > 1) throw new GitError(`git grep in ${repo}: ${grep.stderr.trim()}`, { rev });
  const candidates = grep.stdout.split('\0').filter(Boolean).map((entry) => entry.slice(rev.length + 1)).filter(isManifestPath).sort();
  const found: string[] = [];
  for (const file of candidates) {
    const text = (await git(repo, ['cat-file', 'blob', `${rev}:${file}`])).stdout;
    if (objectsIn(text).some((o) => o.kind === 'Deployment' && o.namespace === namespace && o.name === name)) found.push(file);
  }
  return found;
}

interface ObjectKey {
  kind: string;
  namespace: string;
  name: string;
}

/** The objects of a manifest file (documents that do not parse are skipped, as everywhere here). */
function objectsIn(text: string): ObjectKey[] {
  const objects: ObjectKey[] = [];
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length) continue;
    const obj = doc.toJS() as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    if (typeof obj?.kind === 'string') objects.push({ kind: obj.kind, namespace: String(obj.metadata?.namespace ?? 'default'), name: String(obj.metadata?.name ?? '') });
  }
  return objects;
}

export async function rollback(request: RollbackRequest): Promise<RollbackResult> {
  const { repo, branch, namespace, name } = request;
  const ref = `refs/heads/${branch}`;
  const head = (await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { allowFailure: true })).stdout.trim();
  if (!head) throw new ConfigError(`${repo}: no branch ${branch}`);
  const current = await filesDefining(repo, head, namespace, name);

  let target: string;
  let undoes: string | undefined;
  let files: string[];
  if (request.to) {
    target = (await git(repo, ['rev-parse', '--verify', '--quiet', `${request.to}^{commit}`], { allowFailure: true })).stdout.trim();
    if (!target) throw new ConfigError(`--to ${request.to}: no such commit in ${repo}`);
    const then = await filesDefining(repo, target, namespace, name);
    if (then.length === 0) throw new ConfigError(`deployment/${name} (namespace ${namespace}) does not exist at ${request.to}`);
    files = [...new Set([...current, ...then])].sort();
  } else {
    if (current.length === 0) throw new ConfigError(`deployment/${name} (namespace ${namespace}) is not defined on ${branch}`);
    undoes = (await git(repo, ['log', '-n', '1', '--format=%H', head, '--', ...current])).stdout.trim();
    const parent = (await git(repo, ['rev-parse', '--verify', '--quiet', `${undoes}^1`], { allowFailure: true })).stdout.trim();
    if (!parent) throw new ConfigError(`deployment/${name} has no earlier version: ${undoes.slice(0, 12)} is the first commit`);
    const then = await filesDefining(repo, parent, namespace, name);
    if (then.length === 0) throw new ConfigError(`deployment/${name} did not exist before ${undoes.slice(0, 12)}; nothing to roll back to (use --to REV)`);
    target = parent;
    files = [...new Set([...current, ...then])].sort();
  }

  // A file that did not exist at the target is deleted by the restore: only when it holds nothing but this Deployment.
  for (const file of current) {
    if ((await git(repo, ['cat-file', '-e', `${target}:${file}`], { allowFailure: true })).code === 0) continue;
    const others = objectsIn((await git(repo, ['cat-file', 'blob', `${head}:${file}`])).stdout).filter((o) => !(o.kind === 'Deployment' && o.namespace === namespace && o.name === name));
    if (others.length > 0) {
      throw new ConfigError(`${file} did not exist at ${target.slice(0, 12)}: restoring it would also delete ${others.map((o) => `${o.kind}/${o.name}`).join(', ')}; move deployment/${name} to a file of its own first`, { file });
    }
  }

  const worktree = await checkedOutWorktree(repo, ref);
  if (worktree) {
    const dirty = await git(worktree, ['status', '--porcelain', '--', ...files]);
    if (dirty.stdout.trim()) throw new ConfigError(`${worktree}: uncommitted changes in ${files.join(', ')}; commit or discard them first`);
  }

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'cox-rollback-'));
  try {
    const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
    await git(repo, ['read-tree', head], { env });
    for (const file of files) {
      const entry = (await git(repo, ['ls-tree', '-z', target, '--', file])).stdout.split('\0')[0];
      if (entry) {
        const [mode, , blob] = entry.split('\t')[0].split(' ');
        await git(repo, ['update-index', '--add', '--cacheinfo', `${mode},${blob},${file}`], { env });
      } else {
        await git(repo, ['update-index', '--force-remove', '--', file], { env });
      }
    }
    const tree = (await git(repo, ['write-tree'], { env })).stdout.trim();
    const headTree = (await git(repo, ['rev-parse', `${head}^{tree}`])).stdout.trim();
    if (tree === headTree) throw new ConfigError(`deployment/${name}: ${files.join(', ')} already match ${target.slice(0, 12)}; nothing to commit`);
    const subject = (await git(repo, ['log', '-n', '1', '--format=%s', target])).stdout.trim();
    const message = [
      `Roll back deployment/${name} to ${target.slice(0, 12)}`,
      '',
      `Restores ${files.join(', ')} as of ${target.slice(0, 12)} ("${subject}").`,
      '',
      ...(undoes ? [`Coxswain-Rollback-Of: ${undoes}`] : []),
      `Coxswain-Rollback-To: ${target}`,
      '',
    ].join('\n');
    const commit = (await git(repo, ['commit-tree', tree, '-p', head, '-F', '-'], { input: message, env: await identityEnv(repo) })).stdout.trim();
    const moved = await git(repo, ['update-ref', '-m', `cox rollback deployment/${name}`, ref, commit, head], { allowFailure: true });
    if (moved.code !== 0) throw new GitError(`${branch} moved while rolling back (someone committed); run cox rollback again`, { branch });
    if (worktree) {
      for (const file of files) {
        const inCommit = (await git(repo, ['ls-tree', commit, '--', file])).stdout.trim() !== '';
        if (inCommit) await git(worktree, ['checkout', commit, '--', file]);
        else {
          await git(worktree, ['rm', '-q', '--cached', '--ignore-unmatch', '--', file]);
          await rm(path.join(worktree, file), { force: true });
        }
      }
    }
    return { commit, branch, files, restoredFrom: target, ...(undoes ? { undoes } : {}) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A non-bare repository whose HEAD is this branch: its worktree must follow the new commit. */
async function checkedOutWorktree(repo: string, ref: string): Promise<string | undefined> {
  const bare = (await git(repo, ['rev-parse', '--is-bare-repository'])).stdout.trim() === 'true';
  if (bare) return undefined;
  const head = await git(repo, ['symbolic-ref', '--quiet', 'HEAD'], { allowFailure: true });
  if (head.stdout.trim() !== ref) return undefined;
  return (await git(repo, ['rev-parse', '--show-toplevel'])).stdout.trim();
}

/** commit-tree needs an identity: the user's own when git has one, else one that says which tool made the commit. */
async function identityEnv(repo: string): Promise<NodeJS.ProcessEnv> {
  const known = await git(repo, ['var', 'GIT_COMMITTER_IDENT'], { allowFailure: true });
  if (known.code === 0) return {};
  return { GIT_AUTHOR_NAME: 'cox rollback', GIT_AUTHOR_EMAIL: 'cox@localhost', GIT_COMMITTER_NAME: 'cox rollback', GIT_COMMITTER_EMAIL: 'cox@localhost' };
}
