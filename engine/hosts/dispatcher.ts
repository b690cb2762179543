/**
 * The transport seam between the engine and an agent: an undici Dispatcher
 * whose connections are SSH `direct-streamlocal@openssh.com` channels to the
 * agent's unix socket on the host. No TCP port is opened on any host; the
 * agent client above never knows it is talking through SSH.
 */
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
      // An ssh2 channel is a Duplex; undici drives it like a socket.
      (channel) => callback(null, channel as unknown as Socket),
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
