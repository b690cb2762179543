import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../common/errors.ts';

/** One lab host as recorded in lab.json. */
export interface LabNode {
  /** h1, h2, ... */
  name: string;
  /** 198.18.<index>.(10+i) */
  address: string;
  /** 100.64.<i>.0/24 */
  podCIDR: string;
  /** The host's PID 1 (catatonit) as seen from the root PID namespace. */
  pid: number;
  /** The pinned SSH host keys, "ssh-ed25519 AAAA...". */
  hostKeys: string[];
  /** Network namespace name under /run/netns. */
  netns: string;
  /** Root-namespace end of the host's veth pair (the host sees it as eth0). */
  veth: string;
  /** Per-host state: storage, /etc/containers copy, sshd files, logs. */
  hostDir: string;
}

export interface Lab {
  name: string;
  index: number;
  dir: string;
  bridge: string;
  /** 198.18.<index>.1 */
  bridgeAddress: string;
  nodes: LabNode[];
  clientKeyPath: string;
  /** known_hosts holding every host's pinned key, for `ssh -o UserKnownHostsFile=`. */
  knownHostsPath: string;
  /** Read-only image stores every host lists in additionalimagestores. */
  imageStores: string[];
  /** The cluster repository `cox lab up` wrote, when it wrote one. */
  clusterRepo?: string;
  nftTable: string;
  createdAt: string;
}

export const MAX_INDEX = 255;
export const MAX_NODES = 50;
export const SERVICE_CIDR = '100.127.0.0/24';
export const GUARD_ROUTES = ['198.18.0.0/15', '100.64.0.0/10'];

/** Every name and address of a lab follows from its index and node count; nothing else is chosen at run time. */
export function labNames(index: number) {
  if (!Number.isInteger(index) || index < 0 || index > MAX_INDEX) {
    throw new ConfigError(`lab index ${index}: expected an integer from 0 to ${MAX_INDEX}`);
  }
  return {
    bridge: `coxbr${index}`,
    bridgeAddress: `198.18.${index}.1`,
    nftTable: `coxlab${index}`,
    netnsPrefix: `cox${index}-`,
    vethPrefix: `cox${index}h`,
  };
}

export function nodeNames(index: number, i: number) {
  if (!Number.isInteger(i) || i < 1 || i > MAX_NODES) throw new ConfigError(`lab node number ${i}: expected 1 to ${MAX_NODES}`);
  const names = labNames(index);
  return {
    name: `h${i}`,
    address: `198.18.${index}.${10 + i}`,
    podCIDR: `100.64.${i}.0/24`,
    netns: `${names.netnsPrefix}h${i}`,
    veth: `${names.vethPrefix}${i}`,
  };
}

export function labFile(dir: string): string {
  return join(resolve(dir), 'lab.json');
}

/** The lab recorded in dir, or undefined when there is none. */
export function readLab(dir: string): Lab | undefined {
  const file = labFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Lab;
  } catch (err) {
    throw new ConfigError(`${file}: not a lab state file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function writeLab(lab: Lab): void {
  const file = labFile(lab.dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(lab, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
