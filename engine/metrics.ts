/**
 * The engine's Prometheus metrics, rendered in the text exposition format
 * (version 0.0.4). Few enough that a small registry of our own is clearer
 * than a dependency: counters, gauges and one histogram kind.
 */
import http from 'node:http';
import { ConfigError } from '../common/errors.ts';

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

interface Metric {
  render(): string[];
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines;
  }
}

export class Gauge implements Metric {
  private values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  /** Replace every labelled value at once (e.g. pods by phase), so vanished label sets drop out. */
  replace(entries: Array<[Labels, number]>): void {
    this.values = new Map(entries.map(([labels, value]) => [labelKey(labels), value]));
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines;
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    this.buckets.forEach((bound, i) => {
      if (value <= bound) this.counts[i] += 1;
    });
  }
  get observations(): number {
    return this.count;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket{le="${bound}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}

/** Every metric the engine exports. */
export class EngineMetrics {
  readonly reconcileDuration = new Histogram('coxswain_reconcile_duration_seconds', 'Time one reconcile pass took, from reading state to the last PUT.', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  readonly reconcileErrors = new Counter('coxswain_reconcile_errors_total', 'Reconcile passes that failed and were retried with back-off.');
  readonly queueDepth = new Gauge('coxswain_queue_depth', 'Reconcile triggers waiting for the next pass.');
  readonly podsByPhase = new Gauge('coxswain_pods', 'Pods the engine knows, by phase.');
  readonly sshConnections = new Gauge('coxswain_ssh_connections', 'SSH connections to nodes, by state.');
  readonly statusCommits = new Counter('coxswain_status_commits_total', 'Commits written to the status branch.');
  readonly desiredPuts = new Counter('coxswain_agent_desired_puts_total', 'Desired states sent to agents, by node and result.');
  readonly appliedCommit = new Gauge('coxswain_desired_commit_info', 'The desired commit last applied (value 1, commit in a label).');
  readonly refusedCommits = new Counter('coxswain_desired_commits_refused_total', 'Desired commits refused because their manifests did not validate.');

  private readonly all: Metric[] = [this.reconcileDuration, this.reconcileErrors, this.queueDepth, this.podsByPhase, this.sshConnections, this.statusCommits, this.desiredPuts, this.appliedCommit, this.refusedCommits];

  render(): string {
    return `${this.all.flatMap((m) => m.render()).join('\n')}\n`;
  }
}

/** `--metrics ADDR`: ADDR is `PORT`, `HOST:PORT` or `[V6]:PORT`. */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]:|([^:]*):)?(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`--metrics ${value}: expected PORT or HOST:PORT, e.g. 127.0.0.1:9464`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** Serves GET /metrics; resolves with the bound address once listening. */
export async function serveMetrics(metrics: EngineMetrics, address: { host: string; port: number }): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics.render());
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ConfigError(`--metrics ${address.host}:${address.port}: ${err.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  return { server, url: `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}/metrics` };
}
