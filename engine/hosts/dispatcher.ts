/**
 * The transport seam between the engine and an agent: an undici Dispatcher
 * whose connections are SSH `direct-streamlocal@openssh.com` channels to the
 * agent's unix socket on the host. No TCP port is opened on any host; the
 * agent client above never knows it is talking through SSH.
 */
import { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { Agent, type Dispatcher } from 'undici';
import type { buildConnector } from 'undici';
import type { Socket } from 'node:net';
import { AGENT_SOCKET_PATH } from '../../common/agent-api.ts';
import type { HostConnection } from './ssh.ts';

/** The origin requests through an agent dispatcher use (the host part is never resolved). */
export const AGENT_ORIGIN = 'http://cox-agent';

export interface AgentDispatcherOptions {
  socketPath?: string;
  /** Concurrent channels (a watch long-poll and a log follow each hold one). */
  connections?: number;
  /** How long an idle channel is kept for the next request. */
  keepAliveTimeoutMs?: number;
}

export function createAgentDispatcher(connection: HostConnection, options: AgentDispatcherOptions = {}): Dispatcher {
  const socketPath = options.socketPath ?? AGENT_SOCKET_PATH;
  const connect: buildConnector.connector = (_opts, callback) => {
    connection.openStreamLocal(socketPath).then(
      (channel) => callback(null, channelSocket(channel) as unknown as Socket),
      (err: Error) => callback(err, null),
    );
  };
  return new Agent({
    connect,
    connections: options.connections ?? 4,
    pipelining: 1,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    keepAliveMaxTimeout: options.keepAliveTimeoutMs ?? 4_000,
  });
}

/**
 * An ssh2 channel dressed as a socket for undici. The channel's own destroy()
 * neither marks it destroyed nor reliably emits 'close', so undici would
 * count a channel the agent closed as still open and, once its pool is full
 * of them, queue requests forever. This Duplex has the stream semantics
 * undici relies on and closes the channel under it.
 */
export function channelSocket(channel: ClientChannel): Duplex {
  const socket = new Duplex({
    read() {
      channel.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      channel.write(chunk, callback);
    },
    final(callback) {
      channel.end();
      callback();
    },
    destroy(err, callback) {
      channel.close();
      callback(err);
    },
  });
  channel.on('data', (chunk: Buffer) => {
    if (!socket.push(chunk)) channel.pause();
  });
  channel.on('end', () => socket.push(null));
  channel.on('close', () => socket.destroy());
  channel.on('error', (err: Error) => socket.destroy(err));
  return socket;
}
