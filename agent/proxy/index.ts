/**
 * Services on a node: what kube-proxy does, behind one interface. The agent
 * calls `createProxier(mode)` once and `sync(services, ctx)` on every change
 * of its desired state; see README.md in this folder for the theory.
 */
import type { ProxyMode } from '../../common/agent-api.ts';
import { CommandExecutor, type Executor } from './exec.ts';
import { IpvsProxier, type IpvsProxierOptions } from './ipvs.ts';
import { NftablesProxier } from './nftables.ts';
import type { Proxier } from './types.ts';

export type { Proxier, ProxyContext, SyncReport } from './types.ts';
export { NftablesProxier } from './nftables.ts';
export { IpvsProxier, IPVS_DEVICE } from './ipvs.ts';
export { CommandExecutor, FakeExecutor, type Executor } from './exec.ts';

export interface CreateProxierOptions extends IpvsProxierOptions {
  /** Where commands run; default: this host. */
  exec?: Executor;
  /** nft table of the nftables proxier (default cox_proxy). */
  nftTable?: string;
}

export { IPVS_SCHEDULERS, isIpvsScheduler } from './schedulers.ts';

/**
 * True when this kernel can do IPVS: /proc/net/ip_vs exists, or loading the
 * ip_vs module makes it exist; and ipvsadm is installed.
 */
export async function kernelHasIpvs(exec: Executor): Promise<boolean> {
  if ((await exec.run(['ipvsadm', '--version'])).code !== 0) return false;
  if ((await exec.run(['test', '-e', '/proc/net/ip_vs'])).code === 0) return true;
  return (await exec.run(['modprobe', 'ip_vs'])).code === 0 && (await exec.run(['test', '-e', '/proc/net/ip_vs'])).code === 0;
}

/** `auto` picks ipvs when the kernel has it, nftables otherwise; the choice shows in ProxyTable.mode. */
export async function createProxier(mode: ProxyMode, opts: CreateProxierOptions = {}): Promise<Proxier> {
  const exec = opts.exec ?? new CommandExecutor();
  const chosen = mode === 'auto' ? ((await kernelHasIpvs(exec)) ? 'ipvs' : 'nftables') : mode;
  // Each proxier's first sync removes the other's objects, so both are told both names.
  if (chosen === 'ipvs') return new IpvsProxier(exec, { ...opts, nftablesTable: opts.nftTable });
  return new NftablesProxier(exec, { table: opts.nftTable, ipvsDevice: opts.device, ipvsTable: opts.table, stateDir: opts.stateDir });
}
