/**
 * `cox history [KIND/NAME] [-n NS] [--since DATE] [--limit N] [-o json] [--repo DIR] [--status-branch B]`
 *
 * The audit trail, from status commits alone: what changed and when, which
 * desired commit caused it, and who authored that commit.
 */
import path from 'node:path';
import { UsageError } from '../../common/errors.ts';
import { readStatusHistory, summarizeCommit, DEFAULT_STATUS_BRANCH, type CommitSummary, type StatusHistoryEntry } from '../status/index.ts';
import { parseTarget, statusPath, type StatusKind } from '../status/query.ts';
import { shortName } from '../status/columns.ts';
import { outputFormat, parse } from './args.ts';
import { statusBranchRef } from './status-branch.ts';
import type { CommandIO } from './main.ts';

export interface HistoryRecord {
  time: string;
  statusCommit: string;
  changes: string[];
  desiredCommit?: string;
  desiredAuthor?: string;
  desiredSubject?: string;
  refusedCommit?: string;
  reason?: string;
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n', default: 'default' },
    since: { type: 'string' },
    limit: { type: 'string', default: '50' },
    output: { type: 'string', short: 'o' },
    repo: { type: 'string', default: '.' },
    'status-branch': { type: 'string', default: DEFAULT_STATUS_BRANCH },
  });
  const format = outputFormat(values.output, ['text', 'json'] as const, 'text');
  const since = values.since ? new Date(values.since) : undefined;
  if (since && Number.isNaN(since.getTime())) throw new UsageError(`--since ${values.since}: expected a date such as 2026-11-22 or 2026-11-22T10:00:00Z`);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit ${values.limit}: expected a positive whole number`);
  const target = positionals.length ? parseTarget(positionals) : undefined;
  if (target && !target.name) throw new UsageError('expected KIND/NAME, e.g. pod/web-5d8f-x2k');
  const repo = path.resolve(io.cwd, values.repo!);
  const file = target ? statusPath(target.kind, values.namespace!, target.name!) : undefined;
  const entries = await readStatusHistory(repo, { branch: await statusBranchRef(repo, values['status-branch']!), since, paths: file ? [file] : undefined, limit });
  const records = await toRecords(repo, entries, target && { kind: target.kind, namespace: values.namespace!, name: target.name! });
  if (format === 'json') {
    io.stdout(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  if (records.length === 0) {
    io.stderr(`No status commits${file ? ` for ${file}` : ''}${since ? ` since ${since.toISOString()}` : ''}.\n`);
    return 0;
  }
  for (const r of records) io.stdout(formatRecord(r));
  return 0;
}

export async function toRecords(repo: string, entries: StatusHistoryEntry[], target?: { kind: StatusKind; namespace: string; name: string }): Promise<HistoryRecord[]> {
  const cache = {};
  const authors = new Map<string, CommitSummary | undefined>();
  const records: HistoryRecord[] = [];
  for (const e of entries) {
    let desired: CommitSummary | undefined;
    if (e.desiredCommit) {
      if (!authors.has(e.desiredCommit)) authors.set(e.desiredCommit, await summarizeCommit(repo, e.desiredCommit, cache));
      desired = authors.get(e.desiredCommit);
    }
    records.push({
      time: e.time.toISOString(),
      statusCommit: e.commit,
      changes: target ? onlyAbout(e.changes, target) : e.changes,
      desiredCommit: e.desiredCommit,
      desiredAuthor: desired ? `${desired.author} <${desired.email}>` : undefined,
      desiredSubject: desired?.subject,
      refusedCommit: e.refusedCommit,
      reason: e.reason,
    });
  }
  return records;
}

/** The sentences of a batched commit that are about one object (all of them when none matches by name). */
function onlyAbout(changes: string[], target: { kind: StatusKind; namespace: string; name: string }): string[] {
  const short = shortName(target.namespace, target.name);
  const prefix = target.kind === 'Pod' ? `${short}:` : target.kind === 'Node' ? `node ${target.name}:` : `${target.kind.toLowerCase()} ${short}:`;
  const mine = changes.filter((c) => c.startsWith(prefix));
  return mine.length > 0 ? mine : changes;
}

export function formatRecord(r: HistoryRecord): string {
  const lines = [`${r.time}  status ${r.statusCommit.slice(0, 12)}${r.desiredCommit ? `  desired ${r.desiredCommit.slice(0, 12)}` : ''}${r.desiredAuthor ? ` by ${r.desiredAuthor}` : ''}`];
  if (r.desiredSubject) lines.push(`    desired: "${r.desiredSubject}"`);
  for (const change of r.changes) lines.push(`    ${change}`);
  if (r.refusedCommit) lines.push(`    refused desired commit ${r.refusedCommit.slice(0, 12)}`);
  if (r.reason) lines.push(`    reason: ${r.reason}`);
  return `${lines.join('\n')}\n`;
}
