import assert from 'node:assert/strict';
import { ConfigError } from '../../common/errors.ts';
import { parsePinnedKey } from './host-keys.ts';
import { hostKeyAlgorithms, hostSpecFromNode, sameHostSpec, shellQuote, translateSshError } from './ssh.ts';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJhCAuqinuZa3LemcJ+7ceg5Z+1jDPMs6cYN8JkRLbw9';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLRCzRi6LZzhOEVTAXO19jj68Gl6Bc2EOmlCTOdW6JT5gQe3qNqyHz5kIeht2bqq3faOa4PMh22VvpQrWQ8anyY=';

function node(ssh: Record<string, unknown> | undefined, name = 'h2') {
  return { metadata: { name }, spec: ssh === undefined ? {} : { ssh } };
}

describe('SSH host specs from Node manifests', () => {
  it('a Node with only an address and a key defaults to port 22 as root', () => {
    const spec = hostSpecFromNode(node({ address: '198.18.4.11', hostKeys: [ED25519] }));
    assert.deepEqual({ ...spec, hostKeys: spec.hostKeys.map((k) => k.type) }, { name: 'h2', address: '198.18.4.11', port: 22, user: 'root', hostKeys: ['ssh-ed25519'] });
  });

  const refused: Array<[string, ReturnType<typeof node>, RegExp]> = [
    ['a Node without spec.ssh is refused naming the field', node(undefined), /^nodes\/h2\.yaml: spec\.ssh\.address is required for node h2$/],
    ['a Node without pinned keys is refused: there is no trust on first use', node({ address: '198.18.4.11', hostKeys: [] }), /spec\.ssh\.hostKeys of node h2 is empty.*no trust on first use/],
    ['a bad pinned key is refused naming its index', node({ address: '198.18.4.11', hostKeys: [ED25519, 'ssh-ed25519'] }), /^nodes\/h2\.yaml: spec\.ssh\.hostKeys\[1\]: /],
  ];
  for (const [name, manifest, message] of refused) {
    it(name, () => assert.throws(() => hostSpecFromNode(manifest), (err: unknown) => err instanceof ConfigError && message.test(err.message)));
  }

  it('a changed port or key makes a different connection, a reordered manifest does not', () => {
    const a = hostSpecFromNode(node({ address: '198.18.4.11', hostKeys: [ED25519] }));
    assert.equal(sameHostSpec(a, hostSpecFromNode(node({ hostKeys: [ED25519], address: '198.18.4.11', port: 22 }))), true);
    assert.equal(sameHostSpec(a, hostSpecFromNode(node({ address: '198.18.4.11', port: 2222, hostKeys: [ED25519] }))), false);
    assert.equal(sameHostSpec(a, hostSpecFromNode(node({ address: '198.18.4.11', hostKeys: [ECDSA] }))), false);
  });

  it('the server host key algorithms offered are those of the pinned keys only', () => {
    assert.deepEqual(hostKeyAlgorithms([parsePinnedKey(ED25519, 'x'), parsePinnedKey(ECDSA, 'x')]), ['ssh-ed25519', 'ecdsa-sha2-nistp256']);
  });
});

describe('commands for hosts', () => {
  const cases: Array<[string, string[], string]> = [
    ['plain words are left as they are', ['mkdir', '-p', '/run/coxswain'], 'mkdir -p /run/coxswain'],
    ['spaces and shell characters are single-quoted', ['sh', '-c', 'echo $HOME; ls'], `sh -c 'echo $HOME; ls'`],
    ['a single quote inside an argument survives', ['echo', "it's"], `echo 'it'\\''s'`],
    ['an empty argument stays an argument', ['printf', ''], `printf ''`],
  ];
  for (const [name, argv, expected] of cases) it(name, () => assert.equal(shellQuote(argv), expected));
});

describe('SSH failures in words', () => {
  const host = { name: 'h2', address: '198.18.4.11', port: 22, user: 'root' };
  const cases: Array<[string, unknown, boolean, string]> = [
    ['a refused TCP connection asks whether sshd runs', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', level: 'client-socket' }), false, 'agent on h2 unreachable: connection refused by 198.18.4.11:22 (is sshd running?)'],
    ['a refused client key points at authorized_keys', Object.assign(new Error('All configured authentication methods failed'), { level: 'client-authentication' }), false, 'agent on h2 unreachable: root@198.18.4.11:22 refused our client key (check authorized_keys)'],
    ['missed keepalives say the host stopped answering', Object.assign(new Error('Keepalive timeout'), { level: 'client-timeout' }), true, 'agent on h2 unreachable: 198.18.4.11:22 stopped answering keepalives'],
    ['a handshake past its deadline says so', Object.assign(new Error('Timed out while waiting for handshake'), { level: 'client-timeout' }), false, 'agent on h2 unreachable: no SSH handshake with 198.18.4.11:22 before the deadline'],
    ['a connection closed by the host without an error says so', undefined, true, 'agent on h2 unreachable: the connection to 198.18.4.11:22 was closed by the host'],
  ];
  for (const [name, err, wasConnected, expected] of cases) {
    it(name, () => {
      const translated = translateSshError(host, err, wasConnected);
      assert.equal(translated.message, expected);
      assert.equal(translated.code, 'AgentUnreachable');
    });
  }
});
