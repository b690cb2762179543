/** Stable hashing for template hashes, generated names and uids. */
import { stableHash } from '../scheduler/hash.ts';

/** JSON with object keys sorted, so equal values always serialize the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Kubernetes' alphabet for generated names: no vowels, no look-alikes. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A short name-safe hash of a text (10 characters by default, like pod-template-hash). */
export function safeHash(text: string, length = 10): string {
  let a = stableHash(text);
  let b = stableHash(`${text}#`);
  let out = '';
  for (let i = 0; i < length; i++) {
    const word = i % 2 === 0 ? a : b;
    out += ALPHABET[word % ALPHABET.length];
    if (i % 2 === 0) a = Math.floor(a / ALPHABET.length) ^ Math.imul(a, 31);
    else b = Math.floor(b / ALPHABET.length) ^ Math.imul(b, 31);
    a >>>= 0;
    b >>>= 0;
  }
  return out;
}

/** A uid in the 8-4-4-4-12 shape, derived from what makes the object unique. */
export function stableUid(text: string): string {
  const hex = [0, 1, 2, 3].map((i) => stableHash(`${i}:${text}`).toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
