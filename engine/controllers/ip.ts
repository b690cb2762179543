/** IPv4 arithmetic for CIDR allocation. */

export function ipToNumber(address: string): number {
  return address.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  base: number;
  bits: number;
  size: number;
}

export function parseCidr(cidr: string): Cidr {
  const [address, prefix] = cidr.split('/');
  const bits = Number(prefix);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ipToNumber(address) & mask) >>> 0, bits, size: 2 ** (32 - bits) };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const n = ipToNumber(address);
  return n >= cidr.base && n < cidr.base + cidr.size;
}
