import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../../common/errors.ts';
import { run } from './lab.ts';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => (out.stdout += t), stderr: (t: string) => (out.stderr += t), cwd: process.cwd(), env: process.env } };
}

describe('cox lab command line', () => {
  const empty = mkdtempSync(join(tmpdir(), 'cox-nolab-'));
  const cases: [string, string[], new (...args: any[]) => Error, RegExp][] = [
    ['an unknown subcommand is a usage error listing the subcommands', ['start'], UsageError, /unknown subcommand "start"[\s\S]*cox lab up/],
    ['a node count that is not a number is a usage error naming the flag', ['up', '--nodes', 'three', '--dir', empty], UsageError, /--nodes three: expected a whole number/],
    ['exec without -- is a usage error', ['exec', 'h1', '--dir', empty], UsageError, /exec needs a command after --/],
    ['exec without a node is a usage error', ['exec', '--dir', empty, '--', 'true'], UsageError, /exactly one NODE/],
    ['status without a lab names the directory and how to start one', ['status', '--dir', empty], ConfigError, new RegExp(`no lab in ${empty} \\(start one with: cox lab up --dir ${empty}\\)`)],
    ['-o with an unsupported format is a usage error', ['status', '--dir', empty, '-o', 'yaml'], UsageError, /-o yaml: expected one of text, json/],
    ['exec without a lab names the directory', ['exec', 'h1', '--dir', empty, '--', 'true'], ConfigError, /no lab in/],
  ];
  for (const [name, args, kind, message] of cases) {
    it(name, async () => {
      await assert.rejects(run(args, io().io), (err: unknown) => err instanceof kind && message.test((err as Error).message));
    });
  }

  it('down without a lab does nothing and says so', async () => {
    const { out, io: cio } = io();
    assert.equal(await run(['down', '--dir', empty], cio), 0);
    assert.match(out.stderr, /no lab in .*: nothing to do/);
  });

  it('exits 2 with one line from the command line on a usage error', async function () {
    this.timeout(30_000);
    const bin = join(import.meta.dirname, '../../bin/cox.mjs');
    const code = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile('node', [bin, 'lab', 'up', '--nodes', 'many'], (err, _stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr }));
    });
    assert.equal(code.code, 2);
    assert.equal(code.stderr, 'cox lab: --nodes many: expected a whole number\n');
  });
});
