import assert from 'node:assert/strict';
import type { DesiredService } from '../../common/agent-api.ts';
import { parseAddresses, parseIpvsSave, planIpvs, renderAddressBatch, renderIpvsRestore, virtualKey, wantedVirtualServers } from './ipvs-render.ts';
import { servicePorts } from './service-ports.ts';

const opts = { scheduler: 'rr', nodeAddress: '198.18.3.11' };

function svc(name: string, vip: string, endpoints: string[], extra: Partial<DesiredService> & { nodePort?: number; protocol?: 'TCP' | 'UDP' } = {}): DesiredService {
  const { nodePort, protocol, ...rest } = extra;
  return { namespace: 'default', name, type: nodePort ? 'NodePort' : 'ClusterIP', clusterIP: vip, ports: [{ protocol: protocol ?? 'TCP', port: 80, nodePort, endpoints: endpoints.map((ip) => ({ ip, port: 8080 })) }], ...rest };
}

const SAVE = `-A -t 100.127.0.10:80 -s rr
-a -t 100.127.0.10:80 -r 100.64.1.2:8080 -m -w 1
-a -t 100.127.0.10:80 -r 100.64.2.2:8080 -m -w 1
-A -u 100.127.0.53:80 -s rr -p 300
-a -u 100.127.0.53:80 -r 100.64.1.3:8080 -m -w 0
-A -f 7 -s rr
`;

describe('ipvs rendering and planning', function () {
  it('renders the full restore input: one virtual server per Service port and per NodePort, masquerading real servers, persistence for ClientIP, nothing for Services without endpoints', function () {
    const ports = servicePorts([
      svc('web', '100.127.0.10', ['100.64.2.2', '100.64.1.2'], { nodePort: 30080 }),
      svc('dns', '100.127.0.53', ['100.64.1.3'], { protocol: 'UDP', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 300 }),
      svc('empty', '100.127.0.12', []),
      svc('headless', 'None', ['100.64.1.9']),
    ]);
    assert.equal(
      renderIpvsRestore(ports, opts),
      `-A -t 100.127.0.10:80 -s rr
-a -t 100.127.0.10:80 -r 100.64.1.2:8080 -m -w 1
-a -t 100.127.0.10:80 -r 100.64.2.2:8080 -m -w 1
-A -t 198.18.3.11:30080 -s rr
-a -t 198.18.3.11:30080 -r 100.64.1.2:8080 -m -w 1
-a -t 198.18.3.11:30080 -r 100.64.2.2:8080 -m -w 1
-A -u 100.127.0.53:80 -s rr -p 300
-a -u 100.127.0.53:80 -r 100.64.1.3:8080 -m -w 1
`,
    );
  });

  it('parses ipvsadm -Sn output, skipping firewall-mark services that are never ours', function () {
    const parsed = parseIpvsSave(SAVE);
    assert.deepEqual([...parsed.keys()], ['-t 100.127.0.10:80', '-u 100.127.0.53:80']);
    assert.deepEqual(parsed.get('-u 100.127.0.53:80'), { protocol: 'udp', address: '100.127.0.53', port: 80, scheduler: 'rr', persistence: 300, reals: new Map([['100.64.1.3:8080', 0]]) });
  });

  const cases: Array<{ name: string; wanted: DesiredService[]; mayDelete?: boolean; restore: string; drained?: string[]; deleted?: string[] }> = [
    {
      name: 'A Service whose last endpoint went is deleted at once and the Services as wanted are left alone.',
      wanted: [svc('web', '100.127.0.10', ['100.64.1.2', '100.64.2.2']), svc('dns', '100.127.0.53', [], { protocol: 'UDP' })],
      restore: '-D -u 100.127.0.53:80\n',
    },
    {
      name: 'A removed endpoint is drained to weight 0 first, not deleted.',
      wanted: [svc('web', '100.127.0.10', ['100.64.2.2'])],
      restore: '-D -u 100.127.0.53:80\n-e -t 100.127.0.10:80 -r 100.64.1.2:8080 -m -w 0\n',
      drained: ['-t 100.127.0.10:80|100.64.1.2:8080'],
    },
    {
      name: 'A drained real server that is still unwanted is deleted once its drain is over.',
      wanted: [svc('web', '100.127.0.10', ['100.64.1.2', '100.64.2.2']), svc('dns', '100.127.0.53', ['100.64.1.4'], { protocol: 'UDP', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 300 })],
      restore: '-d -u 100.127.0.53:80 -r 100.64.1.3:8080\n-a -u 100.127.0.53:80 -r 100.64.1.4:8080 -m -w 1\n',
      deleted: ['-u 100.127.0.53:80|100.64.1.3:8080'],
    },
    {
      name: 'A drained real server stays at weight 0 while its drain lasts.',
      wanted: [svc('dns', '100.127.0.53', ['100.64.1.4'], { protocol: 'UDP', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 300 }), svc('web', '100.127.0.10', ['100.64.1.2', '100.64.2.2'])],
      mayDelete: false,
      restore: '-a -u 100.127.0.53:80 -r 100.64.1.4:8080 -m -w 1\n',
    },
    {
      name: 'A drained real server wanted again gets its weight back.',
      wanted: [svc('dns', '100.127.0.53', ['100.64.1.3'], { protocol: 'UDP', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 300 }), svc('web', '100.127.0.10', ['100.64.1.2', '100.64.2.2'])],
      restore: '-e -u 100.127.0.53:80 -r 100.64.1.3:8080 -m -w 1\n',
    },
    {
      name: 'A changed affinity edits the virtual server in place.',
      wanted: [svc('web', '100.127.0.10', ['100.64.1.2', '100.64.2.2'], { sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60 })],
      restore: '-D -u 100.127.0.53:80\n-E -t 100.127.0.10:80 -s rr -p 60\n',
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      const plan = planIpvs(parseIpvsSave(SAVE), wantedVirtualServers(servicePorts(c.wanted), opts), () => c.mayDelete ?? true);
      assert.equal(plan.restore, c.restore);
      assert.deepEqual(plan.drained, c.drained ?? []);
      assert.deepEqual(plan.deleted, c.deleted ?? []);
    });
  }

  it('reports a UDP virtual server that lost a real server, with that real server, so its conntrack entries get flushed', function () {
    const current = parseIpvsSave('-A -u 100.127.0.53:80 -s rr\n-a -u 100.127.0.53:80 -r 100.64.1.3:8080 -m -w 1\n-a -u 100.127.0.53:80 -r 100.64.1.4:8080 -m -w 1\n');
    const plan = planIpvs(current, wantedVirtualServers(servicePorts([svc('dns', '100.127.0.53', ['100.64.1.4'], { protocol: 'UDP' })]), opts));
    assert.deepEqual(plan.shrunk.map((s) => `${s.server.protocol} ${s.server.address}:${s.server.port} ${s.reals.join(',')}`), ['udp 100.127.0.53:80 100.64.1.3:8080']);
    assert.deepEqual(plan.removed, []);
  });

  it('reports a deleted virtual server as it was, real servers included', function () {
    const plan = planIpvs(parseIpvsSave(SAVE), wantedVirtualServers(servicePorts([svc('web', '100.127.0.10', ['100.64.1.2', '100.64.2.2'])]), opts));
    assert.deepEqual(plan.removed.map((v) => `${virtualKey(v)} ${[...v.reals.keys()].join(',')}`), ['-u 100.127.0.53:80 100.64.1.3:8080']);
  });

  it('moves the VIP interface to the wanted addresses with one ip batch', function () {
    const current = parseAddresses('5: cox-ipvs0    inet 100.127.0.10/32 scope global cox-ipvs0\\       valid_lft forever\n5: cox-ipvs0    inet 100.127.0.11/32 scope global cox-ipvs0\n');
    assert.deepEqual([...current], ['100.127.0.10', '100.127.0.11']);
    assert.equal(renderAddressBatch('cox-ipvs0', current, new Set(['100.127.0.10', '100.127.0.12'])), 'address del 100.127.0.11/32 dev cox-ipvs0\naddress add 100.127.0.12/32 dev cox-ipvs0\n');
    assert.equal(renderAddressBatch('cox-ipvs0', current, current), '');
  });
});
