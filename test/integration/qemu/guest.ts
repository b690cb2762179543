/**
 * Boots Debian's kernel under qemu (TCG: this CPU has no vmx/svm) with a
 * hand-made initramfs that loads the wanted modules, mounts this machine's
 * root read-only over 9p, and runs one shell command chrooted into it — so
 * the guest runs this repository's real code with the guest's own kernel.
 * No network leaves the guest (-nic none).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeCpio, S_IFDIR, S_IFREG, type CpioEntry } from './cpio.ts';
import { ensureKernel, resolveModules, type GuestKernel } from './kernel.ts';

const PROJECT_ROOT = resolve(import.meta.dirname, '../../..');
const STATE_DIR = join(PROJECT_ROOT, '.lab', 'qemu');
const BUSYBOX = '/bin/busybox';

export interface GuestRun {
  /** Everything the guest printed on its console. */
  output: string;
  /** The command's exit code inside the guest (undefined if it never reported one). */
  exitCode: number | undefined;
  durationMs: number;
}

export interface GuestOptions {
  /** Shell command run with /bin/sh inside the chroot, cwd PROJECT_ROOT. */
  command: string;
  modules: string[];
  timeoutMs?: number;
  memoryMb?: number;
  onLine?: (line: string) => void;
  /** Names the pid file, so a crashed earlier run of the same name is killed first. */
  name?: string;
}

export function initScript(command: string): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do insmod "$m" || echo "COX-GUEST insmod failed: $m"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /mnt || echo "COX-GUEST 9p mount failed"
mount -t proc proc /mnt/proc
mount -t sysfs sysfs /mnt/sys
mount -o bind /dev /mnt/dev
mkdir -p /hostroot
mount -o bind /mnt /hostroot
mount -t tmpfs tmpfs /mnt/tmp
mount -t tmpfs tmpfs /mnt/run
# A checkout under /tmp or /run (CI's clean clone may be one) is brought back over those tmpfs.
case "${PROJECT_ROOT}" in /tmp/*|/run/*) mkdir -p "/mnt${PROJECT_ROOT}" && mount -o bind "/hostroot${PROJECT_ROOT}" "/mnt${PROJECT_ROOT}" || echo "COX-GUEST bind of ${PROJECT_ROOT} failed" ;; esac
echo "COX-GUEST ready"
chroot /mnt /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp /bin/sh -c 'cd ${PROJECT_ROOT} && ${command.replace(/'/g, `'\\''`)}'
echo "COX-GUEST-EXIT $?"
poweroff -f
`;
}

export function buildInitramfs(kernel: GuestKernel, modules: string[], command: string): Buffer {
  const entries: CpioEntry[] = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(BUSYBOX) },
    { name: 'modules', mode: S_IFDIR | 0o755 },
  ];
  resolveModules(kernel.modulesDir, modules).forEach((file, i) => {
    entries.push({ name: `modules/${String(i).padStart(3, '0')}-${basename(file)}`, mode: S_IFREG | 0o644, data: readFileSync(file) });
  });
  entries.push({ name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(initScript(command)) });
  return writeCpio(entries);
}

function killStale(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system')) process.kill(pid, 'SIGKILL');
  } catch {}
  rmSync(pidFile, { force: true });
}

export async function runGuest(opts: GuestOptions): Promise<GuestRun> {
  const started = Date.now();
  const kernel = ensureKernel(opts.onLine);
  mkdirSync(STATE_DIR, { recursive: true });
  const name = opts.name ?? 'guest';
  const pidFile = join(STATE_DIR, `${name}.pid`);
  killStale(pidFile);
  const initrd = join(STATE_DIR, `${name}.cpio`);
  writeFileSync(initrd, buildInitramfs(kernel, opts.modules, opts.command));
  const argv = [
    '-machine', 'q35,accel=tcg', '-cpu', 'max', '-smp', '1', '-m', String(opts.memoryMb ?? 1024),
    '-nic', 'none', '-nographic', '-no-reboot',
    '-kernel', kernel.vmlinuz, '-initrd', initrd,
    '-append', 'console=ttyS0 quiet loglevel=3 panic=-1',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ];
  const child = spawn('qemu-system-x86_64', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  writeFileSync(pidFile, String(child.pid));
  let output = '';
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString().replace(/\r/g, '');
    output += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) opts.onLine?.(line);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timeoutMs = opts.timeoutMs ?? 120000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  rmSync(pidFile, { force: true });
  const m = output.match(/COX-GUEST-EXIT (\d+)/);
  if (!m && Date.now() - started >= timeoutMs) output += `\n[qemu killed after ${timeoutMs} ms]\n`;
  else if (!m) output += `\n[qemu exited with ${code} before the command reported]\n`;
  return { output, exitCode: m ? Number(m[1]) : undefined, durationMs: Date.now() - started };
}
