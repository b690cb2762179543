/**
 * The status branch: what the engine observed, as commits.
 *
 *   StatusWriter.open({ repoDir, branch?, windowMs?, remote?, packEvery? }) -> StatusWriter
 *     .update(observed: ObservedState, cause: { desiredCommit, reason?, refusedCommit? })  batched (default 500 ms)
 *     .flush(): Promise<StatusCommit | undefined>    commit now; undefined when nothing observable changed
 *     .close(): Promise<void>
 *   readStatus(repoDir, branch = 'coxswain/status'): Promise<ObservedState>   empty when the branch is missing
 *   readStatusSnapshot(repoDir, branch?, rev?)   the same, with the status commit and its time
 *   readStatusHistory(repoDir, { branch?, since?, paths?, limit? })   status commits, newest first, with trailers
 *   findStatusBranch(repoDir, branch?)   the local branch, else refs/remotes/<origin, or the one remote>/<branch>
 *
 * Files: nodes/<name>.yaml, <ns>/pods/<name>.yaml, <ns>/<deployments|replicasets|
 * replicationcontrollers|daemonsets>/<name>.yaml, <ns>/services/<name>.yaml,
 * errors.yaml (while a desired commit is refused), STATUS.md. See render.ts.
 * Commit messages: see messages.ts (`Coxswain-Desired:` and `Coxswain-Reason:` trailers).
 */
export { StatusWriter, DEFAULT_STATUS_BRANCH, packRepository, desiredCommitOf } from './writer.ts';
export type { StatusWriterOptions, StatusCommit, StatusDelta } from './writer.ts';
export { readStatus, readStatusSnapshot, readStatusHistory, readStatusFile, changedPaths, summarizeCommit, findStatusBranch } from './read.ts';
export type { StatusSnapshot, StatusHistoryEntry, CommitSummary, StatusBranchLookup } from './read.ts';
export { pathOf, objectsByPath, renderObject, renderStatusMarkdown, parseStatusFiles, withoutHeartbeats, STATUS_MD, ERRORS_FILE } from './render.ts';
export type { StatusObject } from './render.ts';
export { describeChange, composeMessage, parseTrailers, DESIRED_TRAILER, REASON_TRAILER, REFUSED_TRAILER } from './messages.ts';
export type { Cause } from './messages.ts';
export type { RemoteOptions } from './remote.ts';
