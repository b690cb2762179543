/**
 * Debian's stock kernel for the qemu guest (this machine's kernel has no
 * IPVS): downloaded once with `apt-get download`, unpacked with `dpkg -x`,
 * cached under /var/cache/coxswain/qemu. Modules are plain .ko files with no
 * depmod output, so dependencies are read from each module's .modinfo.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const QEMU_CACHE = process.env.COX_QEMU_CACHE ?? '/var/cache/coxswain/qemu';

export interface GuestKernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

/** The kernel package linux-image-amd64 points at (e.g. linux-image-6.1.0-56-amd64). */
function kernelPackage(progress: (line: string) => void): string {
  const lookup = () => {
    try {
      return execFileSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).match(/Depends: (linux-image-\d[\w.-]*-amd64)/)?.[1];
    } catch {
      return undefined;
    }
  };
  let pkg = lookup();
  if (!pkg) {
    progress('qemu: apt lists do not know linux-image-amd64; running apt-get update');
    execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
    pkg = lookup();
  }
  if (!pkg) throw new Error('apt-cache depends linux-image-amd64 names no kernel package, even after apt-get update');
  return pkg;
}

export function ensureKernel(progress: (line: string) => void = () => {}): GuestKernel {
  mkdirSync(QEMU_CACHE, { recursive: true });
  const cached = readdirSync(QEMU_CACHE).filter((d) => /^linux-image-\d.*-amd64$/.test(d) && existsSync(join(QEMU_CACHE, d, 'boot')));
  let dir = cached.sort().at(-1);
  if (!dir) {
    const pkg = kernelPackage(progress);
    progress(`qemu: downloading ${pkg} into ${QEMU_CACHE}`);
    execFileSync('apt-get', ['download', '-q', pkg], { cwd: QEMU_CACHE, stdio: ['ignore', 'ignore', 'pipe'] });
    const deb = readdirSync(QEMU_CACHE).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${QEMU_CACHE}`);
    progress(`qemu: unpacking ${deb}`);
    const staging = join(QEMU_CACHE, `${pkg}.partial`);
    rmSync(staging, { recursive: true, force: true });
    execFileSync('dpkg', ['-x', join(QEMU_CACHE, deb), staging]);
    renameSync(staging, join(QEMU_CACHE, pkg));
    rmSync(join(QEMU_CACHE, deb), { force: true });
    dir = pkg;
  }
  const root = join(QEMU_CACHE, dir);
  const vmlinuz = readdirSync(join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`no vmlinuz in ${join(root, 'boot')}`);
  const version = vmlinuz.slice('vmlinuz-'.length);
  return { version, vmlinuz: join(root, 'boot', vmlinuz), modulesDir: join(root, 'lib', 'modules', version) };
}

const normal = (name: string) => name.replace(/-/g, '_');

/** The `depends=` of a .ko's .modinfo section. */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  const value = ko.subarray(at + '\0depends='.length, end).toString();
  return value ? value.split(',').map(normal) : [];
}

/**
 * The .ko files to insmod, dependencies first, for the wanted modules;
 * modules built into the kernel are skipped, unknown ones are an error.
 */
export function resolveModules(modulesDir: string, wanted: string[]): string[] {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.ko')) files.set(normal(entry.name.slice(0, -3)), p);
    }
  };
  walk(join(modulesDir, 'kernel'));
  const builtin = new Set(readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map((l) => normal(l.split('/').at(-1)!.replace(/\.ko$/, ''))));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]) => {
    const n = normal(name);
    if (seen.has(n) || builtin.has(n)) return;
    const file = files.get(n);
    if (!file) throw new Error(`kernel module ${n} (wanted by ${chain.join(' <- ') || 'the guest'}) is neither in ${modulesDir} nor built in`);
    seen.add(n);
    for (const dep of moduleDepends(readFileSync(file))) visit(dep, [n, ...chain]);
    order.push(file);
  };
  for (const w of wanted) visit(w, []);
  return order;
}
