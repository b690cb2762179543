import { resolve } from 'node:path';
import { ConfigError, UsageError } from '../../common/errors.ts';
import { cleanLab, labDown, labHealth, labSpawn, labUp, readLab, type Lab } from '../lab/index.ts';
import { outputFormat, parse } from './args.ts';
import type { CommandIO } from './main.ts';

const PROJECT_ROOT = resolve(import.meta.dirname, '../..');
const USAGE = `Usage:
  cox lab up [--nodes 3] [--dir DIR] [--index N] [--name NAME] [-o text|json]
  cox lab down [--dir DIR] [--index N]
  cox lab status [--dir DIR] [-o text|json]
  cox lab exec NODE [--dir DIR] [-i] -- CMD [ARG...]
The lab's state lives in DIR (default .lab/ in the project).`;

export async function run(args: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'up':
      return up(rest, io);
    case 'down':
      return down(rest, io);
    case 'status':
      return status(rest, io);
    case 'exec':
      return exec(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(`${USAGE}\n`);
      return sub ? 0 : 2;
    default:
      throw new UsageError(`unknown subcommand "${sub}"\n${USAGE}`);
  }
}

function labDir(value: string | undefined, io: CommandIO): string {
  return value ? resolve(io.cwd, value) : resolve(PROJECT_ROOT, '.lab');
}

function integer(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} ${value}: expected a whole number`);
  return Number(value);
}

function requireLab(dir: string): Lab {
  const lab = readLab(dir);
  if (!lab) throw new ConfigError(`no lab in ${dir} (start one with: cox lab up --dir ${dir})`);
  return lab;
}

async function up(args: string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, {
    nodes: { type: 'string' },
    dir: { type: 'string' },
    index: { type: 'string' },
    name: { type: 'string' },
    output: { type: 'string', short: 'o' },
  }, false);
  const format = outputFormat(values.output, ['text', 'json'] as const, 'text');
  const dir = labDir(values.dir, io);
  const started = Date.now();
  const lab = await labUp({
    name: values.name ?? 'default',
    index: integer('--index', values.index, 0),
    nodes: integer('--nodes', values.nodes, 3),
    dir,
    onProgress: (line) => io.stderr(`${line}\n`),
  });
  if (format === 'json') {
    io.stdout(`${JSON.stringify(summary(lab), null, 2)}\n`);
  } else {
    io.stdout(`lab ${lab.name} up in ${Date.now() - started} ms (${dir})\n${nodeTable(lab)}`);
    io.stdout(`cluster repository: ${lab.clusterRepo}\nssh: ssh -i ${lab.clientKeyPath} -o UserKnownHostsFile=${lab.knownHostsPath} root@${lab.nodes[0].address}\n`);
  }
  return 0;
}

async function down(args: string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, { dir: { type: 'string' }, index: { type: 'string' } }, false);
  const dir = labDir(values.dir, io);
  const lab = readLab(dir);
  if (!lab) {
    if (values.index === undefined) {
      io.stderr(`no lab in ${dir}: nothing to do (--index N removes what a lab with that index left anywhere)\n`);
      return 0;
    }
    const index = integer('--index', values.index, 0);
    await cleanLab(index, dir);
    io.stdout(`lab index ${index}: removed whatever was left (${dir})\n`);
    return 0;
  }
  if (values.index !== undefined && integer('--index', values.index, 0) !== lab.index) {
    throw new UsageError(`--index ${values.index}: the lab in ${dir} has index ${lab.index}`);
  }
  await labDown(lab, (line) => io.stderr(`${line}\n`));
  io.stdout(`lab ${lab.name} down (${dir})\n`);
  return 0;
}

function summary(lab: Lab) {
  return {
    name: lab.name,
    index: lab.index,
    dir: lab.dir,
    bridge: lab.bridge,
    bridgeAddress: lab.bridgeAddress,
    clusterRepo: lab.clusterRepo ?? null,
    clientKey: lab.clientKeyPath,
    knownHosts: lab.knownHostsPath,
    nodes: lab.nodes.map((n) => ({ name: n.name, address: n.address, podCIDR: n.podCIDR, pid: n.pid, hostKeys: n.hostKeys })),
  };
}

function nodeTable(lab: Lab, health?: Awaited<ReturnType<typeof labHealth>>): string {
  const rows = [['NAME', 'ADDRESS', 'POD CIDR', 'PID', ...(health ? ['RUNNING', 'SSH', 'PODMAN'] : [])]];
  for (const n of lab.nodes) {
    const h = health?.find((x) => x.name === n.name);
    rows.push([n.name, n.address, n.podCIDR, String(n.pid), ...(h ? [yes(h.running), yes(h.ssh), yes(h.podman)] : [])]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n') + '\n';
}

function yes(ok: boolean): string {
  return ok ? 'yes' : 'no';
}

async function status(args: string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, { dir: { type: 'string' }, output: { type: 'string', short: 'o' } }, false);
  const format = outputFormat(values.output, ['text', 'json'] as const, 'text');
  const lab = requireLab(labDir(values.dir, io));
  const health = await labHealth(lab);
  const healthy = health.every((h) => h.running && h.ssh && h.podman);
  if (format === 'json') {
    const base = summary(lab);
    const nodes = base.nodes.map((n, i) => ({ ...n, running: health[i].running, ssh: health[i].ssh, podman: health[i].podman }));
    io.stdout(`${JSON.stringify({ ...base, healthy, nodes }, null, 2)}\n`);
  } else {
    io.stdout(`lab ${lab.name} (index ${lab.index}, ${lab.dir}): ${healthy ? 'healthy' : 'DEGRADED'}\n${nodeTable(lab, health)}cluster repository: ${lab.clusterRepo ?? '(none)'}\n`);
  }
  return healthy ? 0 : 1;
}

async function exec(args: string[], io: CommandIO): Promise<number> {
  const dash = args.indexOf('--');
  if (dash < 0 || dash === args.length - 1) throw new UsageError(`exec needs a command after --\n${USAGE}`);
  const { values, positionals } = parse(args.slice(0, dash), { dir: { type: 'string' }, interactive: { type: 'boolean', short: 'i' } });
  if (positionals.length !== 1) throw new UsageError(`exec needs exactly one NODE before --\n${USAGE}`);
  const lab = requireLab(labDir(values.dir, io));
  const child = labSpawn(lab, positionals[0], args.slice(dash + 1));
  child.stdout!.on('data', (chunk: Buffer) => io.stdout(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => io.stderr(chunk.toString()));
  if (values.interactive) process.stdin.pipe(child.stdin!);
  else child.stdin!.end();
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (values.interactive) process.stdin.unpipe(child.stdin!);
      resolvePromise(code ?? (signal ? 128 : 1));
    });
  });
}
