/** IPv4 arithmetic for CIDR allocation. */

export function ipToNumber(address: string): number {
  // Digits and dots are read in place (every pass checks 10,000 kept VIPs); anything else goes through Number() per part.
  let n = 0;
  let part = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      n = ((n << 8) | part) >>> 0;
      part = 0;
    } else if (c >= 48 && c <= 57) part = part * 10 + (c - 48);
    else return address.split('.').reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
  }
  return ((n << 8) | part) >>> 0;
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
