/**
 * Kubernetes quantities ("500m", "0.5", "128Mi", "1.5Gi", "1e3") as numbers.
 *
 * CPU is counted in millicores and memory in bytes, both rounded up to an
 * integer as Kubernetes rounds them, so sums and comparisons are exact.
 */

const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The syntax the schemas accept (schemas/definitions.json#/definitions/Quantity uses the same pattern). */
export const QUANTITY_PATTERN = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$/;

export function isQuantity(value: unknown): value is string | number {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && QUANTITY_PATTERN.test(value);
}

/** The quantity's value in base units (cores, bytes): parseQuantity("500m") === 0.5. Throws on anything else. */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`invalid quantity ${value}`);
    return value;
  }
  const match = QUANTITY_PATTERN.exec(value);
  if (!match) throw new TypeError(`invalid quantity "${value}" (expected a number with an optional suffix such as 500m, 128Mi, 1.5Gi)`);
  const [, number, suffix = ''] = match;
  if (suffix === '' || suffix in SUFFIXES) return Number(number) * SUFFIXES[suffix];
  return Number(number + suffix); // decimal exponent: 1e3
}

/** CPU in millicores, rounded up: "250m" -> 250, "1.5" -> 1500, 2 -> 2000. */
export function cpuMillis(value: string | number): number {
  return Math.ceil(Math.round(parseQuantity(value) * 1e6) / 1e3);
}

/** Memory (or any byte count) in bytes, rounded up: "128Mi" -> 134217728, "1.5Gi" -> 1610612736. */
export function bytes(value: string | number): number {
  return Math.ceil(parseQuantity(value) - 1e-9);
}

/** Millicores the way kubectl prints them: 250 -> "250m", 2000 -> "2". */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Bytes with the largest binary suffix that divides them: 134217728 -> "128Mi". */
export function formatBytes(value: number): string {
  for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const unit = SUFFIXES[suffix];
    if (value >= unit && value % unit === 0) return `${value / unit}${suffix}`;
  }
  return String(value);
}
