import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DesiredService } from '../../common/agent-api.ts';
import { ServiceChangeTracker } from './change-tracker.ts';
import { staleUdpFlushes } from './conntrack.ts';
import { FakeExecutor } from './exec.ts';
import { createProxier, IpvsProxier, NftablesProxier } from './index.ts';
import { proxyTable, servicePorts } from './service-ports.ts';

const ctx = { nodeAddress: '198.18.3.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16' };

function svc(name: string, vip: string | null, endpoints: string[], protocol: 'TCP' | 'UDP' = 'TCP'): DesiredService {
  return { namespace: 'default', name, type: 'ClusterIP', clusterIP: vip, ports: [{ name: 'p', protocol, port: 80, endpoints: endpoints.map((ip) => ({ ip, port: 8080, nodeName: 'h1' })) }] };
}

/** nft commands on the nftables proxier's own table (its first sync also removes the ipvs table: see the mode-change tests). */
const nftCalls = (fake: FakeExecutor) => fake.calls.filter((c) => c.argv[0] === 'nft' && c.input?.includes('cox_proxy'));

describe('service ports and the change tracker', function () {
  it('drops headless Services, de-duplicates and sorts endpoints, and keys ports by Service, port and protocol', function () {
    const ports = servicePorts([svc('b', '100.127.0.2', ['100.64.1.10', '100.64.1.9', '100.64.1.10']), svc('a', 'None', ['100.64.1.1']), svc('c', null, [])]);
    assert.deepEqual(ports.map((p) => [p.key, p.endpoints.map((e) => e.ip)]), [['default/b:p/TCP', ['100.64.1.9', '100.64.1.10']]]);
  });

  it('reports what the status branch shows: mode, service, VIP, backends sorted, affinity', function () {
    assert.deepEqual(proxyTable('nftables', servicePorts([svc('b', '100.127.0.2', ['100.64.2.1', '100.64.1.1'])])), {
      mode: 'nftables',
      services: [{ service: 'default/b:p', vip: '100.127.0.2', port: 80, protocol: 'TCP', backends: ['100.64.1.1:8080', '100.64.2.1:8080'], sessionAffinity: 'None' }],
    });
  });

  it('drops no-op updates, sees an endpoint change as one update, and moves forward only on commit', function () {
    const tracker = new ServiceChangeTracker();
    const first = servicePorts([svc('a', '100.127.0.1', ['100.64.1.1']), svc('b', '100.127.0.2', ['100.64.1.2'])]);
    assert.equal(tracker.changes(first).added.length, 2);
    tracker.commit(first);
    const same = servicePorts([svc('b', '100.127.0.2', ['100.64.1.2']), svc('a', '100.127.0.1', ['100.64.1.1'])]);
    assert.deepEqual(tracker.changes(same), { added: [], updated: [], removed: [], unchanged: 2 });
    const changed = tracker.changes(servicePorts([svc('a', '100.127.0.1', ['100.64.1.3'])]));
    assert.deepEqual([changed.updated.map((u) => u.after.key), changed.removed.map((p) => p.key)], [['default/a:p/TCP'], ['default/b:p/TCP']]);
  });

  it('flushes conntrack for UDP endpoints that went and UDP Services removed, on their ClusterIP and their NodePort, never for TCP', function () {
    const tracker = new ServiceChangeTracker();
    const nodePort = (s: DesiredService, port: number): DesiredService => ({ ...s, type: 'NodePort', ports: [{ ...s.ports[0], nodePort: port }] });
    tracker.commit(servicePorts([nodePort(svc('dns', '100.127.0.53', ['100.64.1.2', '100.64.1.3'], 'UDP'), 30053), nodePort(svc('gone', '100.127.0.54', ['100.64.1.4'], 'UDP'), 30054), svc('web', '100.127.0.10', ['100.64.1.5'])]));
    const changes = tracker.changes(servicePorts([nodePort(svc('dns', '100.127.0.53', ['100.64.1.3'], 'UDP'), 30053), svc('web', '100.127.0.10', [])]));
    assert.deepEqual(staleUdpFlushes(changes, '198.18.3.11'), [
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '100.127.0.54', '--orig-port-dst', '80'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '198.18.3.11', '--orig-port-dst', '30054', '--dst-nat', '100.64.1.4'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '100.127.0.53', '--orig-port-dst', '80', '--dst-nat', '100.64.1.2'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '198.18.3.11', '--orig-port-dst', '30053', '--dst-nat', '100.64.1.2'],
    ]);
  });
});

describe('nftables proxier with a fake kernel', function () {
  it('replaces the whole table on its first sync, runs nothing when nothing changed, and only the change after that', async function () {
    const fake = new FakeExecutor();
    const proxier = new NftablesProxier(fake);
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1']), svc('b', '100.127.0.2', ['100.64.1.2'])], ctx);
    assert.match(nftCalls(fake)[0].input!, /^add table ip cox_proxy\ndelete table ip cox_proxy\n/);
    assert.equal(proxier.lastSync!.full, true);
    await proxier.sync([svc('b', '100.127.0.2', ['100.64.1.2']), svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    assert.equal(nftCalls(fake).length, 1, 'a no-op sync ran nft');
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1']), svc('b', '100.127.0.2', ['100.64.1.3'])], ctx);
    const script = nftCalls(fake)[1].input!;
    assert.doesNotMatch(script, /default\/a\//);
    assert.equal(script, 'delete element ip cox_proxy service_endpoints_tcp { 100.127.0.2 . 80 . 0 }\nadd element ip cox_proxy service_endpoints_tcp { 100.127.0.2 . 80 . 0 : 100.64.1.3 . 8080 }\n');
    assert.deepEqual([proxier.lastSync!.full, proxier.lastSync!.changed], [false, 1]);
  });

  it('after a failed sync, throws the failure naming the command and resyncs the whole table next time', async function () {
    let fail = false;
    const fake = new FakeExecutor((argv) => (fail && argv[0] === 'nft' ? { code: 1, stderr: 'Error: Could not process rule: No such file or directory' } : undefined));
    const proxier = new NftablesProxier(fake);
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    fail = true;
    await assert.rejects(proxier.sync([svc('a', '100.127.0.1', ['100.64.1.2'])], ctx), /proxy: `nft -f -` failed \(exit 1\): Error: Could not process rule/);
    fail = false;
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.2'])], ctx);
    assert.equal(proxier.lastSync!.full, true);
  });

  it('resyncs the whole table when a Service grows past the preset lb chains to an endpoint count no chain serves yet', async function () {
    const fake = new FakeExecutor();
    const proxier = new NftablesProxier(fake);
    const many = (n: number) => Array.from({ length: n }, (_, i) => `100.64.1.${i + 1}`);
    await proxier.sync([svc('a', '100.127.0.1', many(3))], ctx);
    await proxier.sync([svc('a', '100.127.0.1', many(16))], ctx);
    assert.equal(proxier.lastSync!.full, false, '16 endpoints are served by a preset chain');
    await proxier.sync([svc('a', '100.127.0.1', many(17))], ctx);
    assert.equal(proxier.lastSync!.full, true);
    assert.match(nftCalls(fake)[2].input!, /add chain ip cox_proxy lb-tcp-17\n/);
    await proxier.sync([svc('a', '100.127.0.1', many(17)), svc('b', '100.127.0.2', many(17))], ctx);
    assert.equal(proxier.lastSync!.full, false, 'lb-tcp-17 exists now');
  });

  it('resyncs the whole table when the node address or pod subnet changes', async function () {
    const fake = new FakeExecutor();
    const proxier = new NftablesProxier(fake);
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], { ...ctx, nodeAddress: '198.18.3.12' });
    assert.equal(nftCalls(fake).length, 2);
    assert.match(nftCalls(fake)[1].input!, /ip daddr 198\.18\.3\.12 /);
  });
});

describe('ipvs proxier with a fake kernel', function () {
  /** A tiny in-memory IPVS and VIP interface answering the proxier's commands. */
  function fakeKernel(initialSave = '') {
    let save = initialSave;
    let addresses = '';
    let link = false;
    const fake = new FakeExecutor((argv, input) => {
      const cmd = argv.join(' ');
      if (cmd === 'ipvsadm -S -n') return { stdout: save };
      if (cmd === 'ip link show dev cox-ipvs0') return { code: link ? 0 : 1 };
      if (cmd === 'ip link add cox-ipvs0 type dummy') link = true;
      if (cmd === 'ip link del cox-ipvs0') [link, addresses] = [false, ''];
      if (cmd.startsWith('ip -4 -o address show')) return link ? { stdout: addresses } : { code: 1, stderr: 'Device "cox-ipvs0" does not exist.' };
      if (cmd === 'ipvsadm --restore') save = applyRestore(save, input!);
      if (cmd === 'ip -batch -') {
        for (const line of input!.trim().split('\n')) {
          const [, verb, cidr] = line.split(' ');
          if (verb === 'add') addresses += `9: cox-ipvs0    inet ${cidr} scope global cox-ipvs0\n`;
          else addresses = addresses.split('\n').filter((l) => !l.includes(`inet ${cidr} `)).join('\n');
        }
      }
      return undefined;
    });
    return { fake, save: () => save, addresses: () => addresses, link: () => link };
  }

  /** Applies -A/-a/-e/-d/-D lines to a save text, as the kernel would. */
  function applyRestore(save: string, restore: string): string {
    let lines = save.split('\n').filter(Boolean);
    for (const l of restore.trim().split('\n')) {
      const w = l.split(' ');
      const vs = `${w[1]} ${w[2]}`;
      if (w[0] === '-A') lines.push(l);
      else if (w[0] === '-D') lines = lines.filter((x) => !x.includes(` ${vs} `) && !x.endsWith(` ${vs}`));
      else if (w[0] === '-a') lines.push(l);
      else if (w[0] === '-e') lines = lines.map((x) => (x.startsWith(`-a ${vs} -r ${w[4]} `) ? l.replace('-e', '-a') : x));
      else if (w[0] === '-d') lines = lines.filter((x) => !x.startsWith(`-a ${vs} -r ${w[4]} `));
    }
    return lines.join('\n') + '\n';
  }

  it('drains a removed endpoint, keeps it drained until drainMs has passed, then deletes it', async function () {
    const { fake, save } = fakeKernel();
    let now = 1000;
    const proxier = new IpvsProxier(fake, { drainMs: 30000, now: () => now });
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1', '100.64.1.2'])], ctx);
    assert.match(save(), /-a -t 100\.127\.0\.1:80 -r 100\.64\.1\.2:8080 -m -w 1/);
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    assert.match(save(), /-r 100\.64\.1\.2:8080 -m -w 0/);
    now += 10000;
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    assert.match(save(), /-r 100\.64\.1\.2:8080 -m -w 0/, 'deleted before its drain was over');
    now += 20000;
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    assert.doesNotMatch(save(), /100\.64\.1\.2/);
  });

  it('creates its VIP interface once, binds the VIPs, and reports mode ipvs with its scheduler', async function () {
    const { fake } = fakeKernel();
    const proxier = new IpvsProxier(fake, { scheduler: 'lc' });
    const table = await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    await proxier.sync([svc('a', '100.127.0.1', ['100.64.1.1'])], ctx);
    assert.equal(fake.calls.filter((c) => c.argv.join(' ') === 'ip link set cox-ipvs0 up').length, 1);
    assert.deepEqual(fake.calls.find((c) => c.argv.join(' ') === 'ip -batch -')!.input, 'address add 100.127.0.1/32 dev cox-ipvs0\n');
    assert.deepEqual([table.mode, table.services[0].scheduler], ['ipvs', 'lc']);
    assert.deepEqual(fake.calls.filter((c) => c.argv[0] === 'sysctl').map((c) => c.argv), [['sysctl', '-q', '-w', 'net.ipv4.vs.conntrack=1', 'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1']]);
  });

  const udpNodePort = (name: string, vip: string, nodePort: number, endpoints: string[]): DesiredService => ({
    namespace: 'default', name, type: 'NodePort', clusterIP: vip,
    ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort, endpoints: endpoints.map((ip) => ({ ip, port: 5353 })) }],
  });
  const conntrackCalls = (fake: FakeExecutor) => fake.calls.filter((c) => c.argv[0] === 'conntrack').map((c) => c.argv);

  it('flushes only the UDP flows of the Service port whose real server went: its VIP and NodePort, with the removed real server as the reply source', async function () {
    const { fake } = fakeKernel();
    const proxier = new IpvsProxier(fake);
    await proxier.sync([udpNodePort('dns', '100.127.0.53', 30053, ['100.64.1.2', '100.64.1.3']), udpNodePort('gone', '100.127.0.54', 30054, ['100.64.1.4'])], ctx);
    assert.deepEqual(conntrackCalls(fake), []);
    await proxier.sync([udpNodePort('dns', '100.127.0.53', 30053, ['100.64.1.3'])], ctx);
    assert.deepEqual(conntrackCalls(fake), [
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '100.127.0.53', '--orig-port-dst', '53', '--reply-src', '100.64.1.2', '--reply-port-src', '5353'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '198.18.3.11', '--orig-port-dst', '30053', '--reply-src', '100.64.1.2', '--reply-port-src', '5353'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '100.127.0.54', '--orig-port-dst', '53', '--reply-src', '100.64.1.4', '--reply-port-src', '5353'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', '198.18.3.11', '--orig-port-dst', '30054', '--reply-src', '100.64.1.4', '--reply-port-src', '5353'],
    ]);
  });

  const FOREIGN = '-A -t 198.18.3.11:9090 -s wlc\n-a -t 198.18.3.11:9090 -r 10.9.9.9:9090 -m -w 1\n-A -u 198.18.3.11:30054 -s rr\n';
  const foreignLines = (save: string) => save.split('\n').filter((l) => l.includes('198.18.3.11:9090') || l.includes('198.18.3.11:30054'));

  it('leaves a foreign virtual server on the node address alone through full syncs, a removed NodePort and cleanup', async function () {
    const { fake, save } = fakeKernel(FOREIGN);
    const web: DesiredService = { ...svc('web', '100.127.0.10', ['100.64.1.1']), type: 'NodePort', ports: [{ ...svc('web', '100.127.0.10', []).ports[0], nodePort: 30080, endpoints: [{ ip: '100.64.1.1', port: 8080 }] }] };
    const proxier = new IpvsProxier(fake);
    await proxier.sync([web], ctx);
    assert.match(save(), /-A -t 198\.18\.3\.11:30080 -s rr/);
    assert.deepEqual(foreignLines(save()), FOREIGN.trim().split('\n'));
    await proxier.sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
    assert.doesNotMatch(save(), /30080/, 'the NodePort the agent programmed and no longer wants is gone');
    assert.deepEqual(foreignLines(save()), FOREIGN.trim().split('\n'));
    await proxier.cleanup();
    assert.equal(save(), FOREIGN);
    for (const c of fake.calls.filter((c) => c.argv.join(' ') === 'ipvsadm --restore')) assert.doesNotMatch(c.input!, /:9090|:30054/);
  });

  it('remembers its NodePorts in the state dir: a restarted agent deletes the one it no longer wants, and only that one', async function () {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'cox-ipvs-'));
    try {
      const { fake, save } = fakeKernel(FOREIGN);
      await new IpvsProxier(fake, { stateDir }).sync([udpNodePort('dns', '100.127.0.53', 30053, ['100.64.1.2'])], ctx);
      assert.deepEqual(JSON.parse(await readFile(path.join(stateDir, 'ipvs-nodeports.json'), 'utf8')), ['-u 198.18.3.11:30053']);
      const restarted = new IpvsProxier(fake, { stateDir });
      await restarted.sync([], ctx);
      assert.equal(save(), FOREIGN);
      assert.deepEqual(JSON.parse(await readFile(path.join(stateDir, 'ipvs-nodeports.json'), 'utf8')), []);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('uses the scheduler it was given in the restore input, through createProxier', async function () {
    const { fake } = fakeKernel();
    const proxier = await createProxier('ipvs', { exec: fake, scheduler: 'wlc' });
    await proxier.sync([udpNodePort('dns', '100.127.0.53', 30053, ['100.64.1.2'])], ctx);
    assert.equal(fake.calls.find((c) => c.argv.join(' ') === 'ipvsadm --restore')!.input, [
      '-A -u 100.127.0.53:53 -s wlc', '-a -u 100.127.0.53:53 -r 100.64.1.2:5353 -m -w 1',
      '-A -u 198.18.3.11:30053 -s wlc', '-a -u 198.18.3.11:30053 -r 100.64.1.2:5353 -m -w 1', '',
    ].join('\n'));
  });
});

describe('a proxy mode change across an agent restart', function () {
  it('ipvs to nftables: the first sync removes the ipvs virtual servers, cox-ipvs0 and the cox_ipvs table, and no foreign virtual server', async function () {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'cox-mode-'));
    try {
      let save = '-A -t 198.18.3.11:9090 -s wlc\n-A -t 100.127.0.10:80 -s rr\n-a -t 100.127.0.10:80 -r 100.64.1.1:8080 -m -w 1\n-A -t 198.18.3.11:30080 -s rr\n-a -t 198.18.3.11:30080 -r 100.64.1.1:8080 -m -w 1\n';
      let link = true;
      await writeFile(path.join(stateDir, 'ipvs-nodeports.json'), '["-t 198.18.3.11:30080"]\n');
      const fake = new FakeExecutor((argv, input) => {
        const cmd = argv.join(' ');
        if (cmd === 'ipvsadm -S -n') return { stdout: save };
        if (cmd === 'ip -4 -o address show dev cox-ipvs0') return link ? { stdout: '9: cox-ipvs0    inet 100.127.0.10/32 scope global cox-ipvs0\n' } : { code: 1 };
        if (cmd === 'ip link del cox-ipvs0') link = false;
        if (cmd === 'ipvsadm --restore') save = input === '-D -t 100.127.0.10:80\n-D -t 198.18.3.11:30080\n' ? '-A -t 198.18.3.11:9090 -s wlc\n' : 'unexpected';
        return undefined;
      });
      const proxier = await createProxier('nftables', { exec: fake, stateDir });
      await proxier.sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
      assert.equal(save, '-A -t 198.18.3.11:9090 -s wlc\n');
      assert.equal(link, false);
      const nft = fake.calls.filter((c) => c.argv[0] === 'nft').map((c) => c.input!);
      assert.equal(nft[0], 'add table ip cox_ipvs\ndelete table ip cox_ipvs\n');
      assert.match(nft[1], /^add table ip cox_proxy\ndelete table ip cox_proxy\ntable ip cox_proxy \{/);
      assert.deepEqual(JSON.parse(await readFile(path.join(stateDir, 'ipvs-nodeports.json'), 'utf8')), []);
      const before = fake.calls.length;
      await proxier.sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
      assert.equal(fake.calls.length, before, 'only the first sync removes the other mode');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('ipvs to nftables on a node without ipvsadm or cox-ipvs0: only the cox_ipvs table is removed', async function () {
    const fake = new FakeExecutor((argv) => {
      if (argv[0] === 'ipvsadm') return { code: 127, stderr: 'ipvsadm: not found' };
      if (argv[0] === 'ip' && argv.includes('cox-ipvs0')) return { code: 1, stderr: 'Device "cox-ipvs0" does not exist.' };
      return undefined;
    });
    await new NftablesProxier(fake).sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
    assert.deepEqual(fake.calls.slice(0, 4).map((c) => [c.argv.join(' '), c.input]), [
      ['ip -4 -o address show dev cox-ipvs0', undefined],
      ['test -e /proc/net/ip_vs', undefined],
      ['ipvsadm -S -n', undefined],
      ['nft -f -', 'add table ip cox_ipvs\ndelete table ip cox_ipvs\n'],
    ]);
  });

  it('ipvs to nftables on a node whose kernel never loaded ip_vs: ipvsadm is not run (it would load the module)', async function () {
    const fake = new FakeExecutor((argv) => {
      if (argv[0] === 'test') return { code: 1 };
      if (argv[0] === 'ip' && argv.includes('cox-ipvs0')) return { code: 1, stderr: 'Device "cox-ipvs0" does not exist.' };
      return undefined;
    });
    await new NftablesProxier(fake).sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
    assert.equal(fake.calls.filter((c) => c.argv[0] === 'ipvsadm').length, 0);
    assert.deepEqual(fake.calls[2], { argv: ['nft', '-f', '-'], input: 'add table ip cox_ipvs\ndelete table ip cox_ipvs\n' });
  });

  it('nftables to ipvs: the first sync removes the cox_proxy table before programming IPVS, and later syncs do not', async function () {
    const fake = new FakeExecutor();
    const proxier = await createProxier('ipvs', { exec: fake });
    await proxier.sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
    assert.deepEqual([fake.calls[0].argv.join(' '), fake.calls[0].input], ['nft -f -', 'add table ip cox_proxy\ndelete table ip cox_proxy\n']);
    await proxier.sync([svc('web', '100.127.0.10', ['100.64.1.1'])], ctx);
    assert.equal(fake.calls.filter((c) => c.input?.includes('cox_proxy')).length, 1);
  });
});

describe('choosing a proxier', function () {
  const cases: Array<{ name: string; mode: 'auto' | 'ipvs' | 'nftables'; ipvsadm: boolean; procIpVs: boolean; modprobe: boolean; chosen: string }> = [
    { name: 'auto picks ipvs when /proc/net/ip_vs exists and ipvsadm is installed', mode: 'auto', ipvsadm: true, procIpVs: true, modprobe: false, chosen: 'ipvs' },
    { name: 'auto picks ipvs when loading the ip_vs module makes it appear', mode: 'auto', ipvsadm: true, procIpVs: false, modprobe: true, chosen: 'ipvs' },
    { name: 'auto picks nftables when the kernel has no IPVS', mode: 'auto', ipvsadm: true, procIpVs: false, modprobe: false, chosen: 'nftables' },
    { name: 'auto picks nftables when ipvsadm is missing', mode: 'auto', ipvsadm: false, procIpVs: true, modprobe: true, chosen: 'nftables' },
    { name: 'an explicit mode is taken as given', mode: 'nftables', ipvsadm: true, procIpVs: true, modprobe: true, chosen: 'nftables' },
  ];
  for (const c of cases) {
    it(c.name, async function () {
      let loaded = false;
      const exec = new FakeExecutor((argv) => {
        if (argv[0] === 'ipvsadm') return { code: c.ipvsadm ? 0 : 127 };
        if (argv[0] === 'modprobe') return { code: c.modprobe ? ((loaded = true), 0) : 1 };
        if (argv[0] === 'test') return { code: c.procIpVs || loaded ? 0 : 1 };
        return undefined;
      });
      assert.equal((await createProxier(c.mode, { exec })).mode, c.chosen);
    });
  }
});
