/**
 * nftables rules as text, from ServicePorts. Pure: no I/O, same input gives
 * the same script, byte for byte (the unit tests compare it whole).
 *
 * One table of our own (`ip cox_proxy`). Dispatch is by verdict maps keyed by
 * `daddr . l4proto . dport`, endpoints are elements of one shared map per
 * protocol, so a change to one Service is a few map elements (plus its own chains when it
 * has ClientIP affinity) — O(changed), whatever the table's size.
 */
import type { Endpoint } from '../../common/agent-api.ts';
import { shortHash, type ServicePort } from './service-ports.ts';
import type { ServicePortChanges } from './change-tracker.ts';

export interface NftContext {
  /** This node's address: NodePorts are matched on it, and NodePort traffic is masqueraded. */
  nodeAddress: string;
  /**
   * This node's pod subnet. A local pod reaching a local endpoint through a
   * Service (itself included: hairpin) is masqueraded, or the endpoint would
   * answer it straight across the bridge, past the un-DNAT.
   */
  podCIDR: string;
  clusterCIDR: string;
}

export interface NftRenderOptions {
  table: string;
  /**
   * false in ipvs mode: IPVS does the load balancing, the table only rejects
   * Services without endpoints and masquerades hairpin and NodePort traffic.
   */
  loadBalance: boolean;
}

export const NFT_TABLE = 'cox_proxy';
export const NFT_IPVS_TABLE = 'cox_ipvs';
const REJECT_CHAIN = 'reject_service';

/** nft identifiers: a letter first, then letters, digits and `/ - _ .`; at most 255 bytes. */
function ident(text: string): string {
  return text.replace(/[^A-Za-z0-9/_.-]/g, '_').slice(0, 200);
}

function protoName(p: ServicePort): 'tcp' | 'udp' {
  return p.protocol === 'UDP' ? 'udp' : 'tcp';
}

/** "ns/name/tcp/portName": the readable part of the names of one ServicePort's objects. */
function readable(p: ServicePort): string {
  const [nsName, portName] = p.service.split(':');
  return `${nsName}/${protoName(p)}/${portName}`;
}

/**
 * Services without affinity share one chain per protocol and endpoint count:
 * it picks round-robin by looking up (original destination, numgen) in its
 * protocol's map `service_endpoints_tcp|udp`. Only these few rules bind those
 * maps — the kernel re-validates every binding on each element insert, so a
 * rule per Service would make loading 10,000 Services quadratic.
 */
export function lbChain(p: ServicePort): string {
  return `lb-${protoName(p)}-${p.endpoints.length}`;
}

/**
 * One map per protocol rather than the protocol in the key: a full load is
 * ~110,000 of these elements and nft's cost grows with the tokens in each
 * (two fewer per element: about 15% less CPU for `nft -f`).
 */
function endpointMap(p: ServicePort): EndpointMap {
  return `service_endpoints_${protoName(p)}`;
}

export function lbChainRule(chain: string): string {
  const [, proto, count] = chain.split('-');
  return `meta l4proto ${proto} dnat to ip daddr . th dport . numgen inc mod ${count} map @service_endpoints_${proto}`;
}

/**
 * lb chains for 1..LB_PRESET endpoints (TCP and UDP) always exist: nft 1.0.6
 * cannot add a rule that looks up `service_endpoints` once the map is in the
 * kernel ("conflicting protocols specified: tcp vs. th", from re-reading the
 * map's typeof), so they are only ever created in a full sync. A larger
 * endpoint count appearing later makes the next sync a full one.
 */
export const LB_PRESET = 16;

/** The lb chains a full table holds for these ServicePorts, sorted. */
export function lbChains(ports: Iterable<ServicePort>, opts: NftRenderOptions): string[] {
  if (!opts.loadBalance) return [];
  const out = new Set<string>();
  for (let n = 1; n <= LB_PRESET; n++) out.add(`lb-tcp-${n}`).add(`lb-udp-${n}`);
  for (const p of ports) if (p.endpoints.length > 0 && p.affinityTimeoutSeconds === undefined) out.add(lbChain(p));
  return [...out].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** True when these ServicePorts need an lb chain a table built for `applied` lacks: only a full sync can add it. */
export function needsNewLbChain(changed: ServicePort[], applied: Iterable<ServicePort>, opts: NftRenderOptions): boolean {
  const need = (p: ServicePort) => opts.loadBalance && p.endpoints.length > LB_PRESET && p.affinityTimeoutSeconds === undefined;
  const wanted = new Set(changed.filter(need).map(lbChain));
  if (wanted.size === 0) return false;
  for (const p of applied) if (need(p)) wanted.delete(lbChain(p));
  return wanted.size > 0;
}

export function serviceChain(p: ServicePort): string {
  return ident(`svc-${shortHash(p.key)}-${readable(p)}`);
}

export function endpointChain(p: ServicePort, e: Endpoint): string {
  return ident(`ep-${shortHash(`${p.key}|${e.ip}:${e.port}`)}-${readable(p)}__${e.ip}/${e.port}`);
}

export function affinitySet(p: ServicePort, e: Endpoint): string {
  return ident(`aff-${shortHash(`${p.key}|${e.ip}:${e.port}`)}`);
}

type EndpointMap = 'service_endpoints_tcp' | 'service_endpoints_udp';

/** One set or map element this ServicePort owns: map name, key, and value (a verdict or an address). */
export interface MapElement {
  map: 'service_ips' | 'service_nodeports' | EndpointMap | 'no_endpoint_services' | 'no_endpoint_nodeports' | 'nodeports';
  key: string;
  /** Absent for an element of a plain set. */
  value?: string;
}

/** The packet mark that asks nat_postrouting to masquerade (kube-proxy's bit). */
export const MASQUERADE_MARK = '0x00004000';

export function mapElements(p: ServicePort, nodeAddress: string, opts: NftRenderOptions): MapElement[] {
  const out: MapElement[] = [];
  forEachElement(p, nodeAddress, opts, (map, key, value) => out.push(value === undefined ? { map, key } : { map, key, value }));
  return out;
}

/** The elements of `mapElements`, handed out one by one without building objects (a full render has ~120,000). */
function forEachElement(p: ServicePort, nodeAddress: string, opts: NftRenderOptions, add: (map: MapElement['map'], key: string, value?: string) => void): void {
  const proto = protoName(p);
  if (p.endpoints.length === 0) {
    add('no_endpoint_services', `${p.vip} . ${proto} . ${p.port}`, `goto ${REJECT_CHAIN}`);
    if (p.nodePort) add('no_endpoint_nodeports', `${proto} . ${p.nodePort}`, `goto ${REJECT_CHAIN}`);
    return;
  }
  if (p.nodePort) add('nodeports', `${proto} . ${p.nodePort}`);
  if (!opts.loadBalance) return;
  const target = p.affinityTimeoutSeconds === undefined ? lbChain(p) : serviceChain(p);
  add('service_ips', `${p.vip} . ${proto} . ${p.port}`, `goto ${target}`);
  if (p.nodePort) add('service_nodeports', `${proto} . ${p.nodePort}`, `goto ${target}`);
  if (p.affinityTimeoutSeconds !== undefined) return;
  const map = endpointMap(p);
  const dests = p.nodePort ? [`${p.vip} . ${p.port}`, `${nodeAddress} . ${p.nodePort}`] : [`${p.vip} . ${p.port}`];
  for (const dest of dests) {
    for (let i = 0; i < p.endpoints.length; i++) add(map, `${dest} . ${i}`, `${p.endpoints[i].ip} . ${p.endpoints[i].port}`);
  }
}

/** The chains (name and rule lines) and affinity sets one ServicePort owns. */
export interface OwnedObjects {
  chains: Array<{ name: string; rules: string[] }>;
  sets: Array<{ name: string; timeoutSeconds: number }>;
}

export function ownedObjects(p: ServicePort, opts: NftRenderOptions): OwnedObjects {
  const owned: OwnedObjects = { chains: [], sets: [] };
  if (!opts.loadBalance || p.endpoints.length === 0) return owned;
  const proto = protoName(p);
  const dnat = (e: Endpoint) => `meta l4proto ${proto} dnat to ${e.ip}:${e.port}`;
  if (p.affinityTimeoutSeconds === undefined) return owned; // served by a shared lb chain
  // ClientIP affinity: a set of recent clients per endpoint, consulted before the round-robin pick.
  const rules: string[] = [];
  for (const e of p.endpoints) rules.push(`ip saddr @${affinitySet(p, e)} goto ${endpointChain(p, e)}`);
  rules.push(`numgen inc mod ${p.endpoints.length} vmap { ${p.endpoints.map((e, i) => `${i} : goto ${endpointChain(p, e)}`).join(', ')} }`);
  owned.chains.push({ name: serviceChain(p), rules });
  for (const e of p.endpoints) {
    owned.sets.push({ name: affinitySet(p, e), timeoutSeconds: p.affinityTimeoutSeconds });
    owned.chains.push({ name: endpointChain(p, e), rules: [`update @${affinitySet(p, e)} { ip saddr }`, dnat(e)] });
  }
  return owned;
}

function setDecl(s: { name: string; timeoutSeconds: number }): string {
  return `set ${s.name} { type ipv4_addr; flags dynamic,timeout; timeout ${s.timeoutSeconds}s; }`;
}

/** The table's fixed part: maps, hooks, dispatch and reject chains. */
function baseTable(ctx: NftContext, opts: NftRenderOptions): string[] {
  const lines = [`table ip ${opts.table} {`];
  if (opts.loadBalance) {
    lines.push(
      `\tmap service_ips { type ipv4_addr . inet_proto . inet_service : verdict; }`,
      `\tmap service_nodeports { type inet_proto . inet_service : verdict; }`,
      `\tmap service_endpoints_tcp { typeof ip daddr . th dport . numgen inc mod 2 : ip daddr . th dport; }`,
      `\tmap service_endpoints_udp { typeof ip daddr . th dport . numgen inc mod 2 : ip daddr . th dport; }`,
    );
  }
  lines.push(
    `\tmap no_endpoint_services { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    `\tmap no_endpoint_nodeports { type inet_proto . inet_service : verdict; }`,
    `\tset nodeports { type inet_proto . inet_service; }`,
    // NodePort traffic is marked before it is DNATed (or taken by IPVS), so replies come back through this node.
    `\tchain mark_prerouting { type filter hook prerouting priority -110; policy accept; jump mark_nodeports; }`,
    `\tchain mark_output { type filter hook output priority -110; policy accept; jump mark_nodeports; }`,
    `\tchain mark_nodeports { ip daddr ${ctx.nodeAddress} meta l4proto . th dport @nodeports meta mark set meta mark | ${MASQUERADE_MARK}; }`,
  );
  if (opts.loadBalance) {
    lines.push(
      `\tchain nat_prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }`,
      `\tchain nat_output { type nat hook output priority -100; policy accept; jump services; }`,
      `\tchain services { ip daddr . meta l4proto . th dport vmap @service_ips; ip daddr ${ctx.nodeAddress} meta l4proto . th dport vmap @service_nodeports; }`,
    );
  }
  lines.push(
    // Connections whose original destination was not a pod (a VIP, a NodePort) from a local pod to a local pod: see podCIDR.
    `\tchain nat_postrouting { type nat hook postrouting priority srcnat; policy accept; ip saddr ${ctx.podCIDR} ip daddr ${ctx.podCIDR} ct original ip daddr != ${ctx.podCIDR} masquerade; meta mark & ${MASQUERADE_MARK} == ${MASQUERADE_MARK} masquerade; }`,
    `\tchain filter_input { type filter hook input priority -110; policy accept; jump endpoints_check; }`,
    `\tchain filter_forward { type filter hook forward priority -110; policy accept; jump endpoints_check; }`,
    `\tchain filter_output { type filter hook output priority -110; policy accept; jump endpoints_check; }`,
    `\tchain endpoints_check { ip daddr . meta l4proto . th dport vmap @no_endpoint_services; ip daddr ${ctx.nodeAddress} meta l4proto . th dport vmap @no_endpoint_nodeports; }`,
    `\tchain ${REJECT_CHAIN} { meta l4proto tcp reject with tcp reset; reject; }`,
    `}`,
  );
  return lines;
}

function elementLines(table: string, verb: 'add' | 'delete', elements: MapElement[]): string[] {
  const byMap = new Map<string, string[]>();
  for (const el of elements) {
    const list = byMap.get(el.map) ?? [];
    list.push(verb === 'add' && el.value ? `${el.key} : ${el.value}` : el.key);
    byMap.set(el.map, list);
  }
  return [...byMap].map(([map, items]) => `${verb} element ip ${table} ${map} { ${items.join(', ')} }`);
}

/**
 * The whole table, replacing whatever was there in one transaction (the
 * `add table` first makes the `delete table` safe when there was none).
 */
export function renderFull(ports: ServicePort[], ctx: NftContext, opts: NftRenderOptions): string {
  const t = opts.table;
  const lines = [`add table ip ${t}`, `delete table ip ${t}`, ...baseTable(ctx, opts)];
  const byMap = new Map<string, string[]>();
  const addElement = (map: string, key: string, value?: string) => {
    let list = byMap.get(map);
    if (!list) byMap.set(map, (list = []));
    list.push(value === undefined ? key : `${key} : ${value}`);
  };
  for (const c of lbChains(ports, opts)) lines.push(`add chain ip ${t} ${c}`, `add rule ip ${t} ${c} ${lbChainRule(c)}`);
  for (const p of ports) {
    if (p.affinityTimeoutSeconds !== undefined) {
      const owned = ownedObjects(p, opts);
      for (const s of owned.sets) lines.push(`add ${setDecl(s).replace('set ', `set ip ${t} `)}`);
      for (const c of owned.chains) lines.push(`add chain ip ${t} ${c.name}`);
      for (const c of owned.chains) for (const r of c.rules) lines.push(`add rule ip ${t} ${c.name} ${r}`);
    }
    forEachElement(p, ctx.nodeAddress, opts, addElement);
  }
  for (const [map, items] of byMap) lines.push(`add element ip ${t} ${map} { ${items.join(', ')} }`);
  return lines.join('\n') + '\n';
}

/**
 * Only what changed: stale map elements out, the changed Services' chains
 * flushed and rewritten, chains and sets nobody wants any more deleted, new
 * elements in. Unchanged Services are not named in the script at all.
 */
export function renderIncremental(
  changes: ServicePortChanges,
  ctx: NftContext,
  opts: NftRenderOptions,
): string {
  const t = opts.table;
  const befores = [...changes.removed, ...changes.updated.map((u) => u.before)];
  const afters = [...changes.added, ...changes.updated.map((u) => u.after)];
  const elKey = (e: MapElement) => `${e.map}|${e.key}|${e.value}`;
  const oldEls = new Map(befores.flatMap((p) => mapElements(p, ctx.nodeAddress, opts)).map((e) => [elKey(e), e]));
  const newEls = new Map(afters.flatMap((p) => mapElements(p, ctx.nodeAddress, opts)).map((e) => [elKey(e), e]));
  const oldObjs = befores.map((p) => ownedObjects(p, opts));
  const newObjs = afters.map((p) => ownedObjects(p, opts));
  const newChains = new Set(newObjs.flatMap((o) => o.chains.map((c) => c.name)));
  const newSets = new Set(newObjs.flatMap((o) => o.sets.map((s) => s.name)));

  // A chain whose rules stay the same is left alone (its counters and handles too).
  const ruleText = (c: { rules: string[] }) => c.rules.join('\n');
  const oldRules = new Map(oldObjs.flatMap((o) => o.chains.map((c) => [c.name, ruleText(c)] as const)));
  const unchanged = new Set(newObjs.flatMap((o) => o.chains.filter((c) => oldRules.get(c.name) === ruleText(c)).map((c) => c.name)));
  const oldSets = new Set(oldObjs.flatMap((o) => o.sets.map((s) => s.name)));

  const lines: string[] = [];
  lines.push(...elementLines(t, 'delete', [...oldEls].filter(([k]) => !newEls.has(k)).map(([, e]) => e)));
  const stale = [...oldRules.keys()].filter((c) => !unchanged.has(c));
  for (const c of stale) lines.push(`flush chain ip ${t} ${c}`);
  for (const c of stale) if (!newChains.has(c)) lines.push(`delete chain ip ${t} ${c}`);
  for (const s of oldSets) if (!newSets.has(s)) lines.push(`delete set ip ${t} ${s}`);
  for (const o of newObjs) {
    for (const s of o.sets) if (!oldSets.has(s.name)) lines.push(`add ${setDecl(s).replace('set ', `set ip ${t} `)}`);
    for (const c of o.chains) if (!oldRules.has(c.name)) lines.push(`add chain ip ${t} ${c.name}`);
  }
  for (const o of newObjs) {
    for (const c of o.chains) {
      if (unchanged.has(c.name)) continue;
      for (const r of c.rules) lines.push(`add rule ip ${t} ${c.name} ${r}`);
    }
  }
  lines.push(...elementLines(t, 'add', [...newEls].filter(([k]) => !oldEls.has(k)).map(([, e]) => e)));
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
