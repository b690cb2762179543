/**
 * `npm run bench [-- --only NAME] [--json]`
 *
 * Every benchmark is a file `bench/NAME.bench.ts` whose default export returns
 * its figures. With `--json` the runner prints one JSON object
 * `{"NAME": {figure: value, ...}, ...}` on stdout and progress on stderr.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import path from 'node:path';

export type Figures = Record<string, number | string | boolean>;
export type Benchmark = (log: (line: string) => void) => Promise<Figures>;

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string', multiple: true }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const available = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length)).sort();
  const selected = values.only ?? available;
  const unknown = selected.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown benchmark(s) ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
    return 2;
  }
  const results: Record<string, Figures> = {};
  const log = (line: string) => process.stderr.write(`${line}\n`);
  for (const name of selected) {
    log(`bench ${name}: running`);
    const mod = (await import(path.join(here, `${name}.bench.ts`))) as { default: Benchmark };
    results[name] = await mod.default((line) => log(`  ${name}: ${line}`));
    if (!values.json) {
      for (const [figure, value] of Object.entries(results[name])) process.stdout.write(`${name}.${figure} = ${value}\n`);
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  return 0;
}

/** Median of a list of numbers (the figure benchmarks report). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  // Not a top-level await: benchmarks import median/percentile from this module, and a pending
  // top-level await here would deadlock that import cycle (exit 13).
  main().then((code) => (process.exitCode = code));
}
