/** SSH for lab hosts: the lab's client key, one ed25519 host key and one sshd per host. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must } from './process.ts';

export async function ensureKey(path: string, comment: string): Promise<string> {
  if (!existsSync(path)) await must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return publicKey(path);
}

/** "ssh-ed25519 AAAA..." without the comment: the form pinned in Node manifests. */
export function publicKey(privateKeyPath: string): string {
  const [type, key] = readFileSync(`${privateKeyPath}.pub`, 'utf8').trim().split(/\s+/);
  return `${type} ${key}`;
}

export interface SshdFiles {
  config: string;
  hostKey: string;
  pidFile: string;
  log: string;
}

export function sshdFiles(hostDir: string): SshdFiles {
  return {
    config: join(hostDir, 'sshd_config'),
    hostKey: join(hostDir, 'ssh_host_ed25519_key'),
    pidFile: '/run/sshd.pid',
    log: join(hostDir, 'sshd.log'),
  };
}

export function sshdConfig(address: string, files: SshdFiles, authorizedKeys: string): string {
  return [
    `ListenAddress ${address}:22`,
    `HostKey ${files.hostKey}`,
    `PidFile ${files.pidFile}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'AllowStreamLocalForwarding yes',
    'AllowTcpForwarding yes',
    'X11Forwarding no',
    'PrintMotd no',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** Writes the host key and sshd_config for one host and checks the config with `sshd -t`. */
export async function prepareSshd(hostDir: string, name: string, address: string, authorizedKeys: string): Promise<{ files: SshdFiles; hostKey: string }> {
  const files = sshdFiles(hostDir);
  const hostKey = await ensureKey(files.hostKey, `root@${name}`);
  writeFileSync(files.config, sshdConfig(address, files, authorizedKeys));
  // `sshd -t` runs here, in the root namespace, and refuses without the privilege separation directory, which
  // only systemd's ssh.service (RuntimeDirectory=sshd) creates: a fresh machine without systemd has none.
  // Each host's sshd uses the /run/sshd of its own /run tmpfs.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await must(['/usr/sbin/sshd', '-t', '-f', files.config]);
  return { files, hostKey };
}

export function knownHostsLine(address: string, hostKey: string): string {
  return `${address} ${hostKey}`;
}
