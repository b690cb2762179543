/**
 * What the agent's and the action's bundles share: one entry module bundled
 * by esbuild into a single ES module for Node 20, in memory, with `require`
 * defined for the CommonJS dependencies inside it; and writing a generated
 * file atomically (a reader never sees half of it).
 */
import { rename, writeFile } from 'node:fs/promises';
import { ConfigError } from './errors.ts';

export interface BundleOptions {
  /** The project root: where the entry's imports resolve from. */
  root: string;
  /** The entry module's source, e.g. "import { main } from './agent/main.ts'; ...". */
  entry: string;
  /** The entry's name in esbuild's messages. */
  sourcefile: string;
  /** Lines put first in the bundle (a shebang, a "generated, do not edit" comment). */
  header: string[];
  /** 'all' minifies names and whitespace too; 'syntax' keeps the bundle readable. */
  minify: 'all' | 'syntax';
  /** What is being built, for the error message: "the agent bundle". */
  what: string;
}

const DEFINE_REQUIRE = "import { createRequire as __coxRequire } from 'node:module'; const require = __coxRequire(import.meta.url);";

export async function bundleModule(options: BundleOptions): Promise<string> {
  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.build({
      stdin: { contents: options.entry, resolveDir: options.root, sourcefile: options.sourcefile, loader: 'ts' },
      bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, legalComments: 'none',
      ...(options.minify === 'all' ? { minify: true } : { minifySyntax: true }),
      banner: { js: [...options.header, DEFINE_REQUIRE].join('\n') },
      logLevel: 'silent',
    });
    return result.outputFiles[0].text;
  } catch (err) {
    throw new ConfigError(`cannot build ${options.what}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Writes `file` through a temporary file renamed over it. */
export async function writeAtomically(file: string, contents: string | Buffer, mode?: number): Promise<void> {
  await writeFile(`${file}.tmp`, contents, mode === undefined ? undefined : { mode });
  await rename(`${file}.tmp`, file);
}
