import assert from 'node:assert/strict';
import { bridgeCommands, guardRuleset, hostNetworkCommands, ipBatches } from './network.ts';
import { labNames, nodeNames } from './state.ts';

describe('lab names and addresses', () => {
  const cases: [string, () => unknown, unknown][] = [
    ['lab 0 has bridge coxbr0 at 198.18.0.1', () => [labNames(0).bridge, labNames(0).bridgeAddress], ['coxbr0', '198.18.0.1']],
    ['lab 7 host 3 is h3 at 198.18.7.13 with pod subnet 100.64.3.0/24', () => nodeNames(7, 3), { name: 'h3', address: '198.18.7.13', podCIDR: '100.64.3.0/24', netns: 'cox7-h3', veth: 'cox7h3' }],
    ['the longest veth name fits the 15-character limit of Linux', () => nodeNames(255, 50).veth.length + 1 <= 15, true],
  ];
  for (const [name, actual, expected] of cases) it(name, () => assert.deepEqual(actual(), expected));

  it('refuses an index outside 0-255, naming it', () => {
    assert.throws(() => labNames(256), /lab index 256: expected an integer from 0 to 255/);
    assert.throws(() => labNames(1.5), /lab index 1\.5/);
  });
});

describe('lab network commands', () => {
  it('creates the bridge with the lab gateway address and brings it up', () => {
    assert.deepEqual(bridgeCommands(2), [
      ['ip', 'link', 'add', 'coxbr2', 'type', 'bridge'],
      ['ip', 'addr', 'add', '198.18.2.1/24', 'dev', 'coxbr2'],
      ['ip', 'link', 'set', 'coxbr2', 'up'],
    ]);
  });

  it('gives a host eth0 with its address, lo, and the service route through the bridge with its own source, and no default route', () => {
    const commands = hostNetworkCommands(2, 1).map((argv) => argv.join(' '));
    assert.ok(commands.includes('ip -n cox2-h1 addr add 198.18.2.11/24 dev eth0'));
    assert.ok(commands.includes('ip -n cox2-h1 link set lo up'));
    assert.ok(commands.includes('ip -n cox2-h1 route add 100.127.0.0/24 via 198.18.2.1 src 198.18.2.11'));
    assert.ok(!commands.some((c) => c.includes('default')));
    assert.ok(commands.indexOf('ip link set cox2h1p netns cox2-h1') < commands.indexOf('ip -n cox2-h1 link set cox2h1p name eth0'));
  });

  it('drops forwarding between the lab bridge and every other interface in a table of the lab’s own, replaced atomically', () => {
    const rules = guardRuleset(4);
    assert.match(rules, /^table inet coxlab4 \{\}\ndelete table inet coxlab4\ntable inet coxlab4 \{/);
    assert.match(rules, /iifname "coxbr4" oifname != "coxbr4" drop/);
    assert.match(rules, /oifname "coxbr4" iifname != "coxbr4" drop/);
    assert.match(rules, /hook forward/);
  });
});

describe('ip batches', () => {
  it('runs a host’s commands as one batch in the root namespace and one inside its netns', () => {
    const batches = ipBatches(hostNetworkCommands(0, 2));
    assert.deepEqual(batches.map((b) => b.netns), [undefined, 'cox0-h2']);
    assert.equal(batches[0].lines[0], 'netns add cox0-h2');
    assert.equal(batches[1].lines.at(-1), 'route add 100.127.0.0/24 via 198.18.0.1 src 198.18.0.12');
  });

  it('keeps the order of commands that switch namespaces back and forth', () => {
    const batches = ipBatches([['ip', 'link', 'add', 'a'], ['ip', '-n', 'x', 'link', 'set', 'lo', 'up'], ['ip', 'link', 'del', 'a']]);
    assert.deepEqual(batches, [{ netns: undefined, lines: ['link add a'] }, { netns: 'x', lines: ['link set lo up'] }, { netns: undefined, lines: ['link del a'] }]);
  });

  it('refuses anything that is not an ip command', () => assert.throws(() => ipBatches([['nft', 'list', 'ruleset']]), /not an ip command: nft list ruleset/));
});
