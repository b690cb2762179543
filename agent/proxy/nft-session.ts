/**
 * One long-lived `nft -i` that applies scripts without a process each: a
 * spawn is most of an incremental apply (about 10 of 12 ms), the kernel's part
 * is well under a millisecond.
 *
 * nft's interactive mode runs every input line as one transaction, and a line
 * ending in `\` goes on in the next: a script is sent as one logical line
 * (`a; \`, `b; \`, `c`), so it stays atomic. nft says nothing on success, so
 * a marker line follows each script: nft rejects it as a syntax error and
 * echoes it on stderr. Whatever nft wrote to stderr before the marker's error
 * belongs to the script; nothing means it was applied.
 *
 * A session that dies, times out or is closed fails its pending apply and
 * every later one with ProxyCommandFailed; the proxier then starts a new
 * session after a full resync through `nft -f`.
 */
import type { ChildProcess } from 'node:child_process';
import { ProxyCommandFailed } from '../../common/errors.ts';

/** What starts the session's process: the proxier's Executor, when it can keep one running. */
export interface Spawner {
  spawn(argv: string[]): ChildProcess;
}

/** HOME points nowhere: on exit nft -i writes its history (every script) to $HOME/.nft.history. */
export const NFT_SESSION_ARGV = ['env', 'HOME=/nonexistent', 'nft', '-i'];

interface Pending {
  marker: string;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class NftSession {
  /** Scripts applied so far: nft -i keeps each in its in-memory history, so the owner renews a session now and then. */
  applied = 0;
  #child: ChildProcess;
  #stderr = '';
  #pending: Pending | undefined;
  #queue: Promise<void> = Promise.resolve();
  #seq = 0;
  #ended: string | undefined;

  constructor(
    spawner: Spawner,
    private readonly timeoutMs = 30000,
  ) {
    const child = spawner.spawn(NFT_SESSION_ARGV);
    this.#child = child;
    if (!child.stdin || !child.stdout || !child.stderr) throw new Error('nft session: the spawner must give stdin, stdout and stderr pipes');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.#stderr += text;
      this.#settle();
    });
    child.stdout.resume(); // nft prints nothing for our commands; drained so it can never block on a full pipe
    child.stdin.on('error', () => {}); // EPIPE once nft is gone: 'close' reports it
    child.on('error', (err) => this.#end(err.message));
    child.on('close', (code, signal) => this.#end(`nft -i exited (${signal ?? `code ${code}`})${this.#stderr.trim() ? `: ${this.#stderr.trim()}` : ''}`));
    this.#hold(false);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** False once the process died, timed out or was closed: every apply fails from then on. */
  get alive(): boolean {
    return this.#ended === undefined;
  }

  /** Applies `script` as one transaction; rejects with ProxyCommandFailed carrying nft's words. Applies run one at a time, in call order. */
  apply(script: string): Promise<void> {
    const run = this.#queue.then(() => this.#send(script));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Ends nft by closing its input (it exits on EOF); killed if still there after a second. */
  close(): void {
    if (this.#ended === undefined) this.#end('nft session closed');
    this.#child.stdin?.end();
    const kill = setTimeout(() => this.#child.kill('SIGKILL'), 1000);
    kill.unref();
    this.#child.once('close', () => clearTimeout(kill));
  }

  #send(script: string): Promise<void> {
    if (this.#ended !== undefined) return Promise.reject(new ProxyCommandFailed(NFT_SESSION_ARGV, -1, this.#ended));
    const marker = `cox-applied-${++this.#seq}`;
    const lines = script.trimEnd().split('\n');
    const input = `${lines.map((l, i) => (i < lines.length - 1 ? `${l}; \\` : l)).join('\n')}\n${marker}\n`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#end(`no answer from nft -i within ${this.timeoutMs} ms`);
        this.#child.kill('SIGKILL');
      }, this.timeoutMs);
      this.#pending = { marker, resolve, reject, timer };
      this.#hold(true);
      this.#child.stdin!.write(input);
    });
  }

  /** Completes the pending apply once the marker's error (header, marker line, caret line) has arrived. */
  #settle(): void {
    const p = this.#pending;
    if (!p) return;
    const lines = this.#stderr.split('\n');
    const at = lines.indexOf(p.marker);
    if (at < 1 || at + 2 >= lines.length) return; // the caret line after the marker is not complete yet
    const ownOutput = lines.slice(0, at - 1).join('\n').trim();
    this.#stderr = lines.slice(at + 2).join('\n');
    this.#finish(ownOutput ? new ProxyCommandFailed(NFT_SESSION_ARGV, 1, ownOutput) : undefined);
    if (ownOutput === '') this.applied++;
  }

  #finish(err: Error | undefined): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    this.#hold(false);
    if (err) p.reject(err);
    else p.resolve();
  }

  #end(reason: string): void {
    if (this.#ended === undefined) this.#ended = reason;
    this.#finish(new ProxyCommandFailed(NFT_SESSION_ARGV, -1, this.#ended));
  }

  /** An idle session does not keep the Node process alive; one with an apply in flight does. */
  #hold(busy: boolean): void {
    for (const handle of [this.#child, this.#child.stdin, this.#child.stdout, this.#child.stderr] as Array<{ ref?(): void; unref?(): void } | null>) {
      if (busy) handle?.ref?.();
      else handle?.unref?.();
    }
  }
}
