/** The IPVS schedulers ipvsadm knows (ipvsadm(8), `-s`); a tiny module so the agent's flag parsing loads nothing else. */
export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh'] as const;

export type IpvsScheduler = (typeof IPVS_SCHEDULERS)[number];

export function isIpvsScheduler(name: string): name is IpvsScheduler {
  return (IPVS_SCHEDULERS as readonly string[]).includes(name);
}
