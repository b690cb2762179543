/**
 * A remote repository over smart HTTP (isomorphic-git's transport), with a
 * token read from an environment variable. Shared by the desired-state source
 * (fetch) and the status writer (fetch + compare-and-swap push, never forced).
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { GitError } from '../../common/errors.ts';

export interface RemoteOptions {
  /** https://... or http://... (smart HTTP). */
  url: string;
  /** The environment variable holding the token (sent as HTTP basic auth password); default COX_GIT_TOKEN. */
  tokenEnv?: string;
  /** The user name sent with the token (GitHub accepts any; default x-access-token). */
  username?: string;
  env?: NodeJS.ProcessEnv;
}

export function authFor(remote: RemoteOptions) {
  const env = remote.env ?? process.env;
  const token = env[remote.tokenEnv ?? 'COX_GIT_TOKEN'];
  return {
    onAuth: () => (token ? { username: remote.username ?? 'x-access-token', password: token } : { cancel: true }),
    onAuthFailure: () => ({ cancel: true }),
  };
}

/** Redacts credentials that may appear in a URL before it goes into a message. */
export function safeUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

const TRACKING_REMOTE = 'coxswain-tracking';

/** Fetches one ref of the remote into the git directory; returns the remote's oid (undefined when the remote lacks it). */
export async function fetchRef(gitdir: string, remote: RemoteOptions, ref: string, cache: object = {}): Promise<string | undefined> {
  try {
    // isomorphic-git records what it fetched under a remote's refspec; give it one of our own.
    if (!(await git.getConfig({ fs, gitdir, path: `remote.${TRACKING_REMOTE}.fetch` }))) {
      await git.setConfig({ fs, gitdir, path: `remote.${TRACKING_REMOTE}.fetch`, value: `+refs/*:refs/remotes/${TRACKING_REMOTE}/*` });
    }
    const result = await git.fetch({
      fs,
      http,
      gitdir,
      remote: TRACKING_REMOTE,
      url: remote.url,
      ref,
      remoteRef: ref,
      singleBranch: true,
      tags: false,
      cache,
      ...authFor(remote),
    });
    return result.fetchHead ?? undefined;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'NotFoundError' && /Could not find/.test(String((err as Error).message))) return undefined;
    throw new GitError(`fetch ${ref} from ${safeUrl(remote.url)}: ${(err as Error).message}`, { url: safeUrl(remote.url), ref }, { cause: err });
  }
}

/** What the server holds for each ref (no objects transferred). */
export async function listRemoteRefs(remote: RemoteOptions, prefix?: string): Promise<Map<string, string>> {
  try {
    const refs = await git.listServerRefs({ http, url: remote.url, prefix, ...authFor(remote) });
    return new Map(refs.map((r) => [r.ref, r.oid]));
  } catch (err) {
    throw new GitError(`list refs of ${safeUrl(remote.url)}: ${(err as Error).message}`, { url: safeUrl(remote.url) }, { cause: err });
  }
}

export type PushOutcome = { ok: true } | { ok: false; rejected: true; reason: string };

/** Pushes a local ref to the same remote ref, never forced: a non-fast-forward or a moved ref comes back as rejected. */
export async function pushRef(gitdir: string, remote: RemoteOptions, ref: string, cache: object = {}): Promise<PushOutcome> {
  try {
    const result = await git.push({ fs, http, gitdir, url: remote.url, ref, remoteRef: ref, force: false, cache, ...authFor(remote) });
    const status = result.refs?.[ref];
    if (result.ok && (!status || status.ok)) return { ok: true };
    return { ok: false, rejected: true, reason: status?.error ?? result.error ?? 'rejected' };
  } catch (err) {
    const code = (err as { code?: string }).code;
    // NotFoundError: the remote's tip is not here yet, so fast-forward cannot be checked — fetch and retry like a rejection.
    if (code === 'PushRejectedError' || code === 'GitPushError' || code === 'NotFoundError') return { ok: false, rejected: true, reason: (err as Error).message };
    throw new GitError(`push ${ref} to ${safeUrl(remote.url)}: ${(err as Error).message}`, { url: safeUrl(remote.url), ref }, { cause: err });
  }
}
