/**
 * The engine's path to a host, in lab 4 (one host), measured side by side:
 * - connectMs: a fresh ssh2 connection (TCP, key exchange, host key check,
 *   publickey auth), against opensshConnectMs: `ssh host true` with a pinned
 *   known_hosts (connect, auth, one command, exit);
 * - channelRoundTripMs: GET through undici over a direct-streamlocal channel
 *   to an HTTP server on a unix socket inside the host (kept-alive channel),
 *   against unixRoundTripMs: the same request to the same socket from the
 *   machine (through /proc/PID/root), i.e. what SSH adds;
 * - channelOpenRoundTripMs: the same request on a new channel each time.
 * Medians.
 */
import { request, Agent } from 'undici';
import { labDown, labExec, labSpawn, labSshArgv, labUp } from '../engine/lab/index.ts';
import { run, waitFor } from '../engine/lab/process.ts';
import { AGENT_ORIGIN, createAgentDispatcher } from '../engine/hosts/dispatcher.ts';
import { HostConnection, hostSpecFromNode, loadClientAuth } from '../engine/hosts/ssh.ts';
import { median } from './run.ts';

const CONNECTS = 6;
const REQUESTS = 60;
const SOCKET = '/run/coxswain/bench.sock';

export default async function (log: (line: string) => void) {
  const lab = await labUp({ name: 'hosts-bench', index: 4, nodes: 1, dir: '/tmp/cox-lab-4-bench', images: false, clusterRepo: false, onProgress: log });
  const node = lab.nodes[0];
  const server = labSpawn(lab, node.name, ['node', '-e', `require('fs').mkdirSync('/run/coxswain', { recursive: true }); require('http').createServer((q, s) => s.end('{"ok":true}')).listen('${SOCKET}')`]);
  try {
    await waitFor('bench server socket', async () => (await labExec(lab, node.name, ['test', '-S', SOCKET])).code === 0, 15_000, 50);
    const auth = await loadClientAuth(lab.clientKeyPath);
    const spec = hostSpecFromNode({ metadata: { name: node.name }, spec: { ssh: { address: node.address, hostKeys: node.hostKeys } } });

    const connect: number[] = [];
    const openssh: number[] = [];
    for (let i = 0; i < CONNECTS; i++) {
      const connection = new HostConnection(spec, auth);
      let started = performance.now();
      await connection.ready();
      connect.push(performance.now() - started);
      await connection.close();
      started = performance.now();
      const result = await run(labSshArgv(lab, node.name, ['true']), { timeoutMs: 15_000 });
      if (result.code !== 0) throw new Error(`ssh ${node.name} true failed: ${result.stderr}`);
      openssh.push(performance.now() - started);
    }
    log(`connect: ssh2 ${median(connect).toFixed(1)} ms, OpenSSH ssh true ${median(openssh).toFixed(1)} ms`);

    const connection = new HostConnection(spec, auth);
    await connection.ready();
    log('measuring round trips');
    const channel = createAgentDispatcher(connection, { socketPath: SOCKET });
    const fresh = createAgentDispatcher(connection, { socketPath: SOCKET, keepAliveTimeoutMs: 1 });
    const direct = new Agent({ connect: { socketPath: `/proc/${node.pid}/root${SOCKET}` } });
    const viaChannel: number[] = [];
    const viaUnix: number[] = [];
    const viaNewChannel: number[] = [];
    const time = async (dispatcher: Agent | ReturnType<typeof createAgentDispatcher>, into: number[], reset = false) => {
      const started = performance.now();
      const response = await request(`${AGENT_ORIGIN}/v1/version`, { dispatcher, headers: reset ? { connection: 'close' } : undefined, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await response.body.text();
      into.push(performance.now() - started);
    };
    for (let i = 0; i < REQUESTS; i++) {
      await time(channel, viaChannel);
      await time(direct, viaUnix);
      if (i % 3 === 0) await time(fresh, viaNewChannel, true);
      if (i % 20 === 19) log(`${i + 1}/${REQUESTS} requests`);
    }
    log(`round trip: channel ${median(viaChannel).toFixed(2)} ms, unix socket ${median(viaUnix).toFixed(2)} ms, new channel ${median(viaNewChannel).toFixed(2)} ms`);
    await Promise.all([channel.close(), fresh.close(), direct.close()]);
    await connection.close();
    return {
      connectMs: round(median(connect)),
      opensshConnectMs: round(median(openssh)),
      channelRoundTripMs: round(median(viaChannel)),
      unixRoundTripMs: round(median(viaUnix)),
      channelOpenRoundTripMs: round(median(viaNewChannel)),
      connects: CONNECTS,
      requests: REQUESTS,
    };
  } finally {
    server.kill('SIGTERM');
    await labDown(lab);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
