import assert from 'node:assert/strict';
import { EngineMetrics, parseListenAddress, serveMetrics } from './metrics.ts';
import { createLogger } from './log.ts';
import { HostKeyMismatch } from '../common/errors.ts';

describe('engine metrics', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const m = new EngineMetrics();
    m.reconcileDuration.observe(0.003);
    m.reconcileDuration.observe(0.2);
    m.statusCommits.inc();
    m.podsByPhase.replace([[{ phase: 'Running' }, 3], [{ phase: 'Pending' }, 1]]);
    m.sshConnections.replace([[{ state: 'connected' }, 2], [{ state: 'refused' }, 1]]);
    const text = m.render();
    assert.match(text, /^# TYPE coxswain_reconcile_duration_seconds histogram$/m);
    assert.match(text, /^coxswain_reconcile_duration_seconds_bucket\{le="0.005"\} 1$/m);
    assert.match(text, /^coxswain_reconcile_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^coxswain_reconcile_duration_seconds_count 2$/m);
    assert.match(text, /^coxswain_status_commits_total 1$/m);
    assert.match(text, /^coxswain_pods\{phase="Running"\} 3$/m);
    assert.match(text, /^coxswain_ssh_connections\{state="refused"\} 1$/m);
    assert.match(text, /^coxswain_queue_depth 0$/m);
  });

  it('drops label sets that vanished when a gauge is replaced', () => {
    const m = new EngineMetrics();
    m.podsByPhase.replace([[{ phase: 'Pending' }, 1]]);
    m.podsByPhase.replace([[{ phase: 'Running' }, 1]]);
    assert.doesNotMatch(m.render(), /phase="Pending"/);
  });

  const addresses: Array<[string, { host: string; port: number } | RegExp]> = [
    ['9464', { host: '127.0.0.1', port: 9464 }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464 }],
    ['[::1]:9464', { host: '::1', port: 9464 }],
    ['localhost:99999', /expected PORT or HOST:PORT/],
    ['nonsense', /expected PORT or HOST:PORT/],
  ];
  for (const [value, expected] of addresses) {
    it(`reads --metrics ${value} ${expected instanceof RegExp ? 'as an error' : `as ${expected.host} port ${expected.port}`}`, () => {
      if (expected instanceof RegExp) assert.throws(() => parseListenAddress(value), expected);
      else assert.deepEqual(parseListenAddress(value), expected);
    });
  }

  it('serves /metrics over HTTP', async () => {
    const m = new EngineMetrics();
    m.statusCommits.inc();
    const { server, url } = await serveMetrics(m, { host: '127.0.0.1', port: 0 });
    try {
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /text\/plain; version=0.0.4/);
      assert.match(await response.text(), /coxswain_status_commits_total 1/);
    } finally {
      server.close();
    }
  });
});

describe('engine log', () => {
  it('writes one JSON object per event with bound fields and catalogue errors by code', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), now: () => new Date('2026-01-01T00:00:00Z') }).with({ node: 'h2' });
    log.error('host.refused', { error: new HostKeyMismatch('h2', ['SHA256:a'], 'SHA256:b') });
    log.debug('ignored at info level');
    assert.equal(lines.length, 1);
    assert.ok(lines[0].endsWith('\n'));
    assert.deepEqual(JSON.parse(lines[0]), { time: '2026-01-01T00:00:00.000Z', level: 'error', event: 'host.refused', node: 'h2', error: 'host key mismatch for h2: expected SHA256:a, got SHA256:b', errorCode: 'HostKeyMismatch' });
  });
});
