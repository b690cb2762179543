/**
 * The one place the proxy runs commands (nft, ipvsadm, ip, conntrack).
 * Everything else builds argv arrays and script text; tests pass a fake.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ProxyCommandFailed } from '../../common/errors.ts';

export { ProxyCommandFailed };

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Executor {
  run(argv: string[], input?: string): Promise<CommandResult>;
  /** Starts a long-lived process with piped stdio (the nft session); an executor without it gets a process per command. */
  spawn?(argv: string[]): ChildProcess;
}

/** Runs commands on this host; `prefix` (e.g. ['ip', 'netns', 'exec', 'h1']) runs them inside another namespace. */
export class CommandExecutor implements Executor {
  constructor(private readonly prefix: string[] = []) {}

  spawn(argv: string[]): ChildProcess {
    const full = [...this.prefix, ...argv];
    return spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  run(argv: string[], input?: string): Promise<CommandResult> {
    const full = [...this.prefix, ...argv];
    return new Promise((resolve, reject) => {
      const child = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => reject(new ProxyCommandFailed(full, -1, e.message)));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  }
}

/** Records every command and answers from a script of canned results; for unit tests of proxier logic. */
export class FakeExecutor implements Executor {
  readonly calls: Array<{ argv: string[]; input?: string }> = [];
  constructor(private readonly answer: (argv: string[], input?: string) => Partial<CommandResult> | undefined = () => undefined) {}

  async run(argv: string[], input?: string): Promise<CommandResult> {
    this.calls.push(input === undefined ? { argv } : { argv, input });
    const a = this.answer(argv, input) ?? {};
    return { code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  }
}

/** Runs a command and throws ProxyCommandFailed unless it exits 0. */
export async function mustRun(exec: Executor, argv: string[], input?: string): Promise<CommandResult> {
  const r = await exec.run(argv, input);
  if (r.code !== 0) throw new ProxyCommandFailed(argv, r.code, r.stderr || r.stdout);
  return r;
}
