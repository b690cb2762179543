/** The programs the lab runs; missing ones are installed (as root) with scripts/install-deps.sh. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { run } from './process.ts';

export const REQUIRED_PROGRAMS: Record<string, string> = {
  ip: 'iproute2',
  nft: 'nftables',
  podman: 'podman',
  runc: 'runc',
  catatonit: 'catatonit',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  busybox: 'busybox-static',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  setpriv: 'util-linux',
  git: 'git',
  tar: 'tar',
};

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/libexec/podman'];

export function missingPrograms(exists: (path: string) => boolean = existsSync): string[] {
  return Object.keys(REQUIRED_PROGRAMS).filter((program) => !SEARCH_PATH.some((dir) => exists(join(dir, program))));
}

export async function ensurePrograms(progress: (line: string) => void): Promise<void> {
  let missing = missingPrograms();
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((p) => REQUIRED_PROGRAMS[p]))];
  if (process.getuid?.() !== 0) throw new ConfigError(`the lab needs ${missing.join(', ')} (Debian packages ${packages.join(', ')}): install them as root`);
  progress(`installing missing packages for ${missing.join(', ')}: scripts/install-deps.sh`);
  const script = resolve(import.meta.dirname, '../../scripts/install-deps.sh');
  const result = await run(['bash', script], { timeoutMs: 900_000 });
  missing = missingPrograms();
  if (result.code !== 0 || missing.length > 0) {
    throw new ConfigError(`could not install ${missing.join(', ') || packages.join(', ')}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}
