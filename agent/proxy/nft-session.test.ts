import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { NFT_SESSION_ARGV, NftSession } from './nft-session.ts';

/**
 * Answers like `nft -i` on a pipe: joins `\`-continued lines into one
 * command, says nothing on success, and on an error writes nft's three lines
 * (message, the command, a caret line) to stderr. Commands containing
 * "bogus" fail; so does anything that is not a command (the marker).
 */
function fakeNft(opts: { chunked?: boolean } = {}) {
  const commands: string[] = [];
  const child = new EventEmitter() as ChildProcess & EventEmitter;
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  Object.assign(child, { stdin, stdout, stderr, pid: 4242, kill: () => child.emit('close', null, 'SIGKILL') });
  let pending = '';
  let continued = '';
  stdin.setEncoding('utf8');
  stdin.on('data', (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.endsWith('\\')) {
        continued += line.slice(0, -1);
        continue;
      }
      const command = continued + line;
      continued = '';
      commands.push(command);
      const ok = /^(add|delete|flush) /.test(command) && !command.includes('bogus');
      if (ok) continue;
      const message = `Error: ${command.startsWith('cox-applied-') ? 'syntax error, unexpected newline, expecting string' : 'No such file or directory'}\n${command}\n${' '.repeat(command.length)}^\n`;
      // nft's stderr may reach us in pieces: the caret line late.
      if (opts.chunked) {
        stderr.write(message.slice(0, -3));
        setTimeout(() => stderr.write(message.slice(-3)), 5);
      } else stderr.write(message);
    }
  });
  const spawned: string[][] = [];
  return { spawner: { spawn: (argv: string[]) => (spawned.push(argv), child) }, child, commands, spawned };
}

describe('nft session', function () {
  it('sends a script as one logical line (one transaction), then a marker, and resolves when nft reported nothing before the marker', async function () {
    const nft = fakeNft();
    const session = new NftSession(nft.spawner);
    await session.apply('add element ip t m { 1 }\ndelete element ip t m { 2 }\n');
    assert.deepEqual(nft.spawned, [NFT_SESSION_ARGV]);
    assert.deepEqual(nft.commands, ['add element ip t m { 1 }; delete element ip t m { 2 }', 'cox-applied-1']);
    assert.equal(session.applied, 1);
    session.close();
  });

  it("rejects with nft's words when the script failed, and the next script still goes through", async function () {
    const nft = fakeNft({ chunked: true });
    const session = new NftSession(nft.spawner);
    await assert.rejects(session.apply('add chain ip bogus c\n'), (err: Error) => /No such file or directory; add chain ip bogus c/.test(err.message));
    await session.apply('add chain ip t c\n');
    assert.equal(session.applied, 1);
    session.close();
  });

  it('runs scripts given at once one after the other, each answered by its own marker', async function () {
    const nft = fakeNft({ chunked: true });
    const session = new NftSession(nft.spawner);
    const results = await Promise.allSettled([session.apply('add a\n'), session.apply('add bogus\n'), session.apply('add c\n')]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(nft.commands, ['add a', 'cox-applied-1', 'add bogus', 'cox-applied-2', 'add c', 'cox-applied-3']);
    session.close();
  });

  it('fails the pending apply and every later one when nft dies', async function () {
    const nft = fakeNft();
    nft.spawner.spawn = (argv) => {
      nft.spawned.push(argv);
      nft.child.stdin!.removeAllListeners('data');
      nft.child.stdin!.on('data', () => nft.child.emit('close', null, 'SIGKILL'));
      return nft.child;
    };
    const session = new NftSession(nft.spawner);
    await assert.rejects(session.apply('add a\n'), /nft -i exited \(SIGKILL\)/);
    assert.equal(session.alive, false);
    await assert.rejects(session.apply('add b\n'), /nft -i exited/);
  });

  it('gives up on an nft that does not answer within its timeout', async function () {
    const nft = fakeNft();
    nft.child.stdin!.removeAllListeners('data');
    const session = new NftSession(nft.spawner, 50);
    await assert.rejects(session.apply('add a\n'), /no answer from nft -i within 50 ms/);
    assert.equal(session.alive, false);
  });
});
