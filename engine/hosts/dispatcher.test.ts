import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import type { ClientChannel } from 'ssh2';
import { channelSocket } from './dispatcher.ts';

/** The parts of an ssh2 channel channelSocket uses, recording what it was asked to do. */
class FakeChannel extends EventEmitter {
  written: string[] = [];
  calls: string[] = [];
  write(chunk: Buffer, callback: () => void) {
    this.written.push(chunk.toString());
    callback();
    return true;
  }
  end() {
    this.calls.push('end');
  }
  close() {
    this.calls.push('close');
  }
  pause() {
    this.calls.push('pause');
  }
  resume() {
    this.calls.push('resume');
  }
}

function wrap() {
  const channel = new FakeChannel();
  return { channel, socket: channelSocket(channel as unknown as ClientChannel) };
}

describe('SSH channels as sockets for undici', () => {
  it('passes bytes both ways', async () => {
    const { channel, socket } = wrap();
    socket.write('GET / HTTP/1.1\r\n\r\n');
    const received = once(socket, 'data');
    channel.emit('data', Buffer.from('HTTP/1.1 200 OK\r\n'));
    assert.equal(String((await received)[0]), 'HTTP/1.1 200 OK\r\n');
    assert.deepEqual(channel.written, ['GET / HTTP/1.1\r\n\r\n']);
  });

  it('is destroyed and emits close when the agent closes the channel, so the pool frees its slot', async () => {
    const { channel, socket } = wrap();
    socket.resume();
    const closed = once(socket, 'close');
    channel.emit('end');
    channel.emit('close');
    await closed;
    assert.equal(socket.destroyed, true);
  });

  it('closes the channel when undici destroys the socket', async () => {
    const { channel, socket } = wrap();
    const closed = once(socket, 'close');
    socket.destroy();
    await closed;
    assert.deepEqual(channel.calls.filter((c) => c === 'close'), ['close']);
  });

  it('carries a channel error to the socket and destroys it', async () => {
    const { channel, socket } = wrap();
    const failed = once(socket, 'error');
    channel.emit('error', new Error('channel broke'));
    assert.equal(((await failed)[0] as Error).message, 'channel broke');
    assert.equal(socket.destroyed, true);
  });
});
