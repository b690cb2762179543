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

export async function createBridge(index: number): Promise<void> {
  for (const argv of bridgeCommands(index)) await must(argv);
}

export async function installGuard(index: number): Promise<void> {
  for (const argv of guardRouteCommands()) await must(argv);
  await must(['nft', '-f', '-'], { input: guardRuleset(index) });
}

export async function createHostNetwork(index: number, i: number): Promise<void> {
  for (const argv of hostNetworkCommands(index, i)) await must(argv);
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
  for (const link of links.filter((l) => l.startsWith(names.vethPrefix) && /^\d+$/.test(l.slice(names.vethPrefix.length)))) {
    await run(['ip', 'link', 'del', link]);
  }
  for (const netns of (await listNetns()).filter((n) => n.startsWith(names.netnsPrefix))) {
    await must(['ip', 'netns', 'del', netns]);
  }
  if (links.includes(names.bridge)) await run(['ip', 'link', 'del', names.bridge]);
  if (await nftTableExists(index)) await must(['nft', 'delete', 'table', 'inet', names.nftTable]);
  const otherLabs = (await listLinks()).filter((l) => /^coxbr\d+$/.test(l));
  if (otherLabs.length === 0) {
    for (const cidr of GUARD_ROUTES) await run(['ip', 'route', 'del', 'unreachable', cidr]);
  }
}
