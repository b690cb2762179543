import assert from 'node:assert/strict';
import { ConfigError } from '../../common/errors.ts';
import { blobKeyType, fingerprint, isPinned, parsePinnedKey } from './host-keys.ts';

// Public keys made with ssh-keygen; fingerprints as `ssh-keygen -lf` printed them.
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJhCAuqinuZa3LemcJ+7ceg5Z+1jDPMs6cYN8JkRLbw9 root@vm';
const ED25519_FP = 'SHA256:TSOU3wExhgqc6osXpm8PNTKphGwz9OrExidHU81Shh8';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLRCzRi6LZzhOEVTAXO19jj68Gl6Bc2EOmlCTOdW6JT5gQe3qNqyHz5kIeht2bqq3faOa4PMh22VvpQrWQ8anyY=';
const ECDSA_FP = 'SHA256:Oc5YGw2ny6kTQJONHD75uoKNwyDpYyF+ipaVMkHacIc';

describe('pinned host keys', () => {
  const fingerprints: Array<[string, string, string]> = [
    ['an ed25519 key has the fingerprint ssh-keygen prints', ED25519, ED25519_FP],
    ['an ecdsa key with base64 padding has the fingerprint ssh-keygen prints', ECDSA, ECDSA_FP],
  ];
  for (const [name, line, expected] of fingerprints) {
    it(name, () => assert.equal(fingerprint(parsePinnedKey(line, 'nodes/h1.yaml: spec.ssh.hostKeys[0]').blob), expected));
  }

  it('a key line without its comment parses to the same blob as with it', () => {
    const withComment = parsePinnedKey(ED25519, 'x');
    const without = parsePinnedKey(ED25519.split(' ').slice(0, 2).join(' '), 'x');
    assert.ok(withComment.blob.equals(without.blob));
    assert.equal(blobKeyType(without.blob), 'ssh-ed25519');
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['a line with only a type is refused and the field is named', 'ssh-ed25519', /^nodes\/h1\.yaml: spec\.ssh\.hostKeys\[0\]: expected "TYPE BASE64"/],
    ['an unknown key type is refused', 'ssh-dss AAAAB3NzaC1kc3M=', /unsupported host key type "ssh-dss"/],
    ['data that is not base64 is refused', 'ssh-ed25519 not*base64', /not valid base64/],
    ['a key whose data is of another type than its line says is refused', `ssh-rsa ${ED25519.split(' ')[1]}`, /the key data says "ssh-ed25519" but the line says "ssh-rsa"/],
  ];
  for (const [name, line, message] of invalid) {
    it(name, () => {
      assert.throws(() => parsePinnedKey(line, 'nodes/h1.yaml: spec.ssh.hostKeys[0]'), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  it('only a byte-identical key is pinned', () => {
    const pinned = [parsePinnedKey(ED25519, 'x')];
    assert.equal(isPinned(pinned, parsePinnedKey(ED25519, 'x').blob), true);
    assert.equal(isPinned(pinned, parsePinnedKey(ECDSA, 'x').blob), false);
    const tampered = Buffer.from(pinned[0].blob);
    tampered[tampered.length - 1] ^= 1;
    assert.equal(isPinned(pinned, tampered), false);
  });
});
