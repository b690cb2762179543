/** Kubernetes' name and label syntax, each check returning a sentence fragment or undefined when fine. */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** RFC 1123 label: namespaces, container, volume and node-port names. */
export function dns1123Label(value: string): string | undefined {
  if (value.length > 63) return `"${value}" is longer than 63 characters`;
  if (!LABEL.test(value)) return `"${value}" is not a valid DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)`;
  return undefined;
}

/** RFC 1123 subdomain: most object names. */
export function dns1123Subdomain(value: string): string | undefined {
  if (value.length > 253) return `"${value.slice(0, 40)}..." is longer than 253 characters`;
  if (!SUBDOMAIN.test(value)) return `"${value}" is not a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)`;
  return undefined;
}

/** RFC 1035 label: Service names (they become environment variable names and DNS names). */
export function dns1035Label(value: string): string | undefined {
  if (value.length > 63) return `"${value}" is longer than 63 characters`;
  if (!DNS1035.test(value)) return `"${value}" is not a valid DNS-1035 label (lower-case letters, digits and '-', starting with a letter)`;
  return undefined;
}

/** IANA service name: container and service port names. */
export function portName(value: string): string | undefined {
  if (value.length > 15) return `port name "${value}" is longer than 15 characters`;
  if (!LABEL.test(value) || value.includes('--') || !/[a-z]/.test(value)) {
    return `port name "${value}" must be lower-case letters, digits and single '-', with at least one letter`;
  }
  return undefined;
}

export function labelKey(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length === 0 || dns1123Subdomain(prefix))) return `label key "${key}" has an invalid prefix (a DNS subdomain is expected before '/')`;
  if (name.length === 0 || name.length > 63 || !QUALIFIED.test(name)) {
    return `label key "${key}" is not valid (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, after an optional "prefix/")`;
  }
  return undefined;
}

export function labelValue(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !QUALIFIED.test(value)) {
    return `label value "${value}" is not valid (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`;
  }
  return undefined;
}

/** IPv4 dotted quad. */
export function isIPv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export interface Cidr {
  base: number;
  bits: number;
}

/** "100.64.0.0/16" -> {base, bits}; undefined when malformed or when host bits are set. */
export function parseCidr(value: string): Cidr | undefined {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length || prefix === undefined || !isIPv4(address) || !/^([0-9]|[12][0-9]|3[0-2])$/.test(prefix)) return undefined;
  const bits = Number(prefix);
  const base = ipToNumber(address);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((base & mask) >>> 0 !== base) return undefined;
  return { base, bits };
}

export function ipToNumber(address: string): number {
  return address.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
  return ((address & mask) >>> 0) === cidr.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.bits <= b.bits ? cidrContains(a, b.base) : cidrContains(b, a.base);
}
