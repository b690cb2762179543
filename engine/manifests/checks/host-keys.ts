/** Pinned host keys as OpenSSH writes them: "TYPE BASE64 [comment]", the blob naming the same type. */

export const HOST_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

/** Undefined when the key is well-formed, else why not. */
export function hostKeyProblem(line: string): string | undefined {
  const [type, blob] = line.trim().split(/\s+/);
  if (!type || !blob) return `"${line.slice(0, 40)}" is not a host key: expected "TYPE BASE64", e.g. "ssh-ed25519 AAAAC3Nza..." (a line of ssh-keyscan or /etc/ssh/ssh_host_*_key.pub)`;
  if (!HOST_KEY_TYPES.includes(type)) return `unknown host key type "${type}" (expected one of ${HOST_KEY_TYPES.join(', ')})`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) return `the ${type} key is not valid base64`;
  const bytes = Buffer.from(blob, 'base64');
  if (bytes.length < 4) return `the ${type} key is truncated`;
  const length = bytes.readUInt32BE(0);
  const inner = bytes.subarray(4, 4 + length).toString('latin1');
  if (length > bytes.length - 4 || inner !== type) return `the key's data says "${inner.slice(0, 40)}", not ${type}: the key is corrupt or pasted into the wrong type`;
  if (type === 'ssh-ed25519' && bytes.length !== 51) return 'the ssh-ed25519 key has the wrong length (truncated or padded)';
  return undefined;
}
