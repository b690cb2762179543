/**
 * One lab host = a network namespace plus its own mount, UTS and PID
 * namespaces, with catatonit as its PID 1 running init.sh (LAB.md explains
 * why `ip netns exec` alone is not enough). Podman, sshd and the agent then
 * use their default paths inside the host and know nothing of the lab.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, waitFor, type RunResult } from './process.ts';

export const CATATONIT = existsSync('/usr/bin/catatonit') ? '/usr/bin/catatonit' : '/usr/libexec/podman/catatonit';
export const PODMAN_SOCKET = '/run/podman/podman.sock';

/**
 * Directories every host keeps to itself: hosts see the machine's root
 * filesystem, and the agent's state, program and logs must not be shared
 * between hosts (or with the machine) any more than on real hosts.
 */
export const PRIVATE_DIRS = ['/var/lib/coxswain', '/usr/local/lib/coxswain', '/etc/coxswain', '/var/log'];

export function privateDirSource(hostDir: string, path: string): string {
  return join(hostDir, 'private', path);
}

export interface HostInit {
  name: string;
  hostDir: string;
  storageDir: string;
  containersConfigDir: string;
  sshdConfig: string;
  sshdLog: string;
}

/** The init script the host's PID 1 runs: private /sys, /run, /dev/shm, container dirs; then sshd and podman. */
export function initScript(h: HostInit): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
set -eu
hostname ${q(h.name)}
# /sys as this netns sees it, keeping the cgroup mounts runc looks for
mount -t tmpfs -o mode=0755 cox-run /run
mkdir -p /run/cox-cgroup /run/sshd /run/podman
mount --rbind /sys/fs/cgroup /run/cox-cgroup
umount -l /sys
mount -t sysfs sysfs /sys
mount --rbind /run/cox-cgroup /sys/fs/cgroup
umount -l /run/cox-cgroup
rmdir /run/cox-cgroup
mount -t tmpfs -o mode=1777 cox-shm /dev/shm
mkdir -p /var/lib/containers /etc/containers
mount --bind ${q(h.storageDir)} /var/lib/containers
mount --bind ${q(h.containersConfigDir)} /etc/containers
${PRIVATE_DIRS.map((dir) => `mkdir -p ${dir}\nmount --bind ${q(privateDirSource(h.hostDir, dir))} ${dir}`).join('\n')}
echo 1 > /proc/sys/net/ipv4/ip_forward
if [ -w /proc/sys/net/bridge/bridge-nf-call-iptables ]; then echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables; fi
/usr/sbin/sshd -D -f ${q(h.sshdConfig)} -E ${q(h.sshdLog)} &
podman system service --time 0 unix://${PODMAN_SOCKET} > ${q(join(h.hostDir, 'podman.log'))} 2>&1 &
echo ready > /run/cox-host-ready
wait
`;
}

/**
 * Starts the host detached (it outlives the process that starts it) and
 * returns the root-namespace PID of its PID 1 once the init script has run.
 */
export async function startHost(netns: string, h: HostInit, timeoutMs = 15000): Promise<number> {
  for (const dir of PRIVATE_DIRS) mkdirSync(privateDirSource(h.hostDir, dir), { recursive: true });
  const script = join(h.hostDir, 'init.sh');
  writeFileSync(script, initScript(h), { mode: 0o755 });
  const log = openSync(join(h.hostDir, 'init.log'), 'w');
  const launcher = spawn(
    'nsenter',
    [`--net=/run/netns/${netns}`, 'unshare', '--mount', '--uts', '--pid', '--fork', '--kill-child=SIGTERM', '--mount-proc', '--propagation', 'slave', CATATONIT, '--', '/bin/sh', script],
    { cwd: '/', detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  launcher.unref();
  const launcherPid = launcher.pid;
  if (!launcherPid) throw new Error(`${h.name}: could not start nsenter`);
  const pid = await waitFor(`${h.name}: its PID 1 to start`, () => {
    if (launcher.exitCode !== null) throw new Error(`${h.name}: the host exited at once: ${readTail(join(h.hostDir, 'init.log'))}`);
    const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim();
    return children ? Number(children.split(' ')[0]) : undefined;
  }, timeoutMs);
  await waitFor(`${h.name}: its init script (see ${join(h.hostDir, 'init.log')})`, () => {
    if (!isAlive(pid)) throw new Error(`${h.name}: the host exited: ${readTail(join(h.hostDir, 'init.log'))}`);
    return existsSync(`/proc/${pid}/root/run/cox-host-ready`);
  }, timeoutMs);
  return pid;
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}

/** True while pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True when pid is a lab host's PID 1 (catatonit under unshare), so a recorded PID reused by something else is never killed. */
export function isHostInit(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline[0].endsWith('catatonit') && cmdline.includes('/bin/sh') && cmdline.some((a) => a.endsWith('/init.sh'));
  } catch {
    return false;
  }
}

/**
 * nsenter must fork to put argv in the host's PID namespace, and it does not
 * pass signals on to that child: setpriv's parent-death signal makes argv
 * get SIGTERM when nsenter is killed, so killing the spawned PID is enough.
 */
export function nsenterArgv(pid: number, argv: string[]): string[] {
  return ['nsenter', '-t', String(pid), '-m', '-n', '-u', '-p', '--', 'setpriv', '--pdeathsig', 'TERM', '--', ...argv];
}

export function execInHost(pid: number, argv: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(nsenterArgv(pid, argv), options);
}

export function spawnInHost(pid: number, argv: string[]): ChildProcess {
  const [command, ...args] = nsenterArgv(pid, argv);
  return spawn(command, args, { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** SIGTERM to the host's PID 1 (the kernel then kills everything inside), SIGKILL if it lingers; waits for it to be gone. */
export async function stopHost(pid: number, timeoutMs = 10000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  try {
    await waitFor(`host PID ${pid} to exit`, () => !isAlive(pid), Math.min(3000, timeoutMs));
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await waitFor(`host PID ${pid} to exit after SIGKILL`, () => !isAlive(pid), timeoutMs);
  }
}
