/**
 * The lab's network in the root namespace: a bridge per lab, a veth per host,
 * and the guard that keeps every lab packet on this machine (unreachable
 * routes for the test ranges, an nft table of the lab's own that drops
 * forwarding between the lab bridge and any other interface).
 */
import { GUARD_ROUTES, SERVICE_CIDR, labNames, nodeNames } from './state.ts';
import { must, run } from './process.ts';

export function bridgeCommands(index: number): string[][] {
  const { bridge, bridgeAddress } = labNames(index);
  return [
    ['ip', 'link', 'add', bridge, 'type', 'bridge'],
    ['ip', 'addr', 'add', `${bridgeAddress}/24`, 'dev', bridge],
    ['ip', 'link', 'set', bridge, 'up'],
  ];
}

export function guardRouteCommands(): string[][] {
  return GUARD_ROUTES.map((cidr) => ['ip', 'route', 'replace', 'unreachable', cidr]);
}

/** The lab's own nft table, loaded atomically (the leading empty table makes the delete safe when it does not exist). */
export function guardRuleset(index: number): string {
  const { bridge, nftTable } = labNames(index);
  return [
    `table inet ${nftTable} {}`,
    `delete table inet ${nftTable}`,
    `table inet ${nftTable} {`,
    `  chain forward {`,
    `    type filter hook forward priority -10; policy accept;`,
    `    iifname "${bridge}" oifname != "${bridge}" drop`,
    `    oifname "${bridge}" iifname != "${bridge}" drop`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** Creates host i's netns and veth, addresses it, and routes the service range back through the bridge. */
export function hostNetworkCommands(index: number, i: number): string[][] {
  const { bridge, bridgeAddress } = labNames(index);
  const node = nodeNames(index, i);
  const peer = `${node.veth}p`;
  return [
    ['ip', 'netns', 'add', node.netns],
    ['ip', 'link', 'add', node.veth, 'type', 'veth', 'peer', 'name', peer],
    ['ip', 'link', 'set', peer, 'netns', node.netns],
    ['ip', 'link', 'set', node.veth, 'master', bridge, 'up'],
    ['ip', '-n', node.netns, 'link', 'set', peer, 'name', 'eth0'],
    ['ip', '-n', node.netns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0'],
    ['ip', '-n', node.netns, 'link', 'set', 'eth0', 'up'],
    ['ip', '-n', node.netns, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', node.netns, 'route', 'add', SERVICE_CIDR, 'via', bridgeAddress, 'src', node.address],
  ];
}

/**
 * Runs `ip` argv lists through `ip -batch`, one process per run of
 * consecutive commands for the same namespace (`ip -n NS ...`), instead of
 * one process per command: lab up spawns a few processes, not dozens.
 */
export function ipBatches(commands: string[][]): { netns?: string; lines: string[] }[] {
  const batches: { netns?: string; lines: string[] }[] = [];
  for (const argv of commands) {
    if (argv[0] !== 'ip') throw new Error(`not an ip command: ${argv.join(' ')}`);
    const netns = argv[1] === '-n' ? argv[2] : undefined;
    const line = argv.slice(netns ? 3 : 1).join(' ');
    const last = batches.at(-1);
    if (last && last.netns === netns) last.lines.push(line);
    else batches.push({ netns, lines: [line] });
  }
  return batches;
}

/** With force, a failing line does not stop the lines after it (clean-up of what may be half there). */
export async function runIp(commands: string[][], options: { force?: boolean } = {}): Promise<void> {
  for (const batch of ipBatches(commands)) {
    const argv = ['ip', ...(options.force ? ['-force'] : []), ...(batch.netns ? ['-n', batch.netns] : []), '-batch', '-'];
    const input = `${batch.lines.join('\n')}\n`;
    if (options.force) await run(argv, { input });
    else await must(argv, { input });
  }
}

export async function createBridge(index: number): Promise<void> {
  await runIp(bridgeCommands(index));
}

export async function installGuard(index: number): Promise<void> {
  for (const argv of guardRouteCommands()) await must(argv);
  await must(['nft', '-f', '-'], { input: guardRuleset(index) });
}

export async function createHostNetwork(index: number, i: number): Promise<void> {
  await runIp(hostNetworkCommands(index, i));
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run(['ip', 'link', 'show', 'dev', name])).code === 0;
}

export async function listNetns(): Promise<string[]> {
  const out = await must(['ip', 'netns', 'list']);
  return out.split('\n').map((line) => line.split(' ')[0]).filter(Boolean);
}

export async function listLinks(): Promise<string[]> {
  const out = await must(['ip', '-o', 'link', 'show']);
  return out
    .split('\n')
    .map((line) => line.split(': ')[1]?.split('@')[0])
    .filter((name): name is string => Boolean(name));
}

export async function nftTableExists(index: number): Promise<boolean> {
  return (await run(['nft', 'list', 'table', 'inet', labNames(index).nftTable])).code === 0;
}

/** PIDs of every process whose network namespace is netns. */
export async function netnsPids(netns: string): Promise<number[]> {
  const result = await run(['ip', 'netns', 'pids', netns]);
  if (result.code !== 0) return [];
  return result.stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * Removes the lab's veths, netns, bridge and nft table; the guard routes go
 * only when no other lab bridge is left, since labs with other indexes share them.
 * Tolerates any part being absent (a crashed run leaves some and not others).
 */
export async function removeNetwork(index: number): Promise<void> {
  const names = labNames(index);
  const links = await listLinks();
  const veths = links.filter((l) => l.startsWith(names.vethPrefix) && /^\d+$/.test(l.slice(names.vethPrefix.length)));
  const netnses = (await listNetns()).filter((n) => n.startsWith(names.netnsPrefix));
  // veths before their netns: `ip netns del` is asynchronous, and a veth still in a dying netns makes the next `up` fail with "File exists"
  await runIp([
    ...veths.map((veth) => ['ip', 'link', 'del', veth]),
    ...netnses.map((netns) => ['ip', 'netns', 'del', netns]),
    ...(links.includes(names.bridge) ? [['ip', 'link', 'del', names.bridge]] : []),
  ], { force: true });
  const left = (await listNetns()).filter((n) => n.startsWith(names.netnsPrefix));
  if (left.length > 0) throw new Error(`could not delete network namespace(s) ${left.join(', ')}`);
  if (await nftTableExists(index)) await must(['nft', 'delete', 'table', 'inet', names.nftTable]);
  const otherLabs = (await listLinks()).filter((l) => /^coxbr\d+$/.test(l));
  if (otherLabs.length === 0) {
    for (const cidr of GUARD_ROUTES) await run(['ip', 'route', 'del', 'unreachable', cidr]);
  }
}
