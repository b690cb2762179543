/**
 * Host keys pinned in Git, in OpenSSH's "type base64 [comment]" form (a line
 * of known_hosts without the host pattern, or a host's *.pub file). A host is
 * accepted only when the key it presents is byte for byte one of its pinned
 * keys: there is no trust-on-first-use.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../common/errors.ts';

export interface PinnedKey {
  type: string;
  /** The raw public key blob (what the SSH server sends in its KEXDH reply). */
  blob: Buffer;
}

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/**
 * Parses one pinned key; `where` names the field for the error
 * (e.g. "nodes/h1.yaml: spec.ssh.hostKeys[0]").
 */
export function parsePinnedKey(text: string, where: string): PinnedKey {
  const [type, base64] = text.trim().split(/\s+/);
  if (!type || !base64) throw new ConfigError(`${where}: expected "TYPE BASE64" (an OpenSSH public key), got ${JSON.stringify(text)}`, { field: where });
  if (!KEY_TYPES.has(type)) throw new ConfigError(`${where}: unsupported host key type ${JSON.stringify(type)} (supported: ${[...KEY_TYPES].join(', ')})`, { field: where });
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new ConfigError(`${where}: the key is not valid base64`, { field: where });
  const blob = Buffer.from(base64, 'base64');
  const embedded = blobKeyType(blob);
  if (embedded !== type) {
    throw new ConfigError(`${where}: the key data says ${embedded === undefined ? 'nothing readable' : JSON.stringify(embedded)} but the line says ${JSON.stringify(type)}`, { field: where });
  }
  return { type, blob };
}

/** The key type an SSH public key blob starts with (a uint32-length-prefixed string). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** OpenSSH's fingerprint: "SHA256:" and the base64 of the blob's SHA-256, without padding. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function isPinned(pinned: PinnedKey[], presented: Buffer): boolean {
  return pinned.some((key) => key.blob.equals(presented));
}
