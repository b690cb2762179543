/**
 * `cox validate [PATH...] [-o json]`: checks manifests without touching a
 * cluster. Exit 0 without errors (warnings allowed), 1 with errors, 2 for
 * wrong usage. `-o json` prints the diagnostics as a JSON list.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../common/errors.ts';
import { formatDiagnostic, hasErrors, loadManifests } from '../manifests/index.ts';
import { readManifestFiles } from '../manifests/files.ts';
import type { CommandIO } from './main.ts';
import { outputFormat, parse } from './args.ts';

const HELP = `Usage: cox validate [PATH...] [-o text|json]

Validates Kubernetes manifests (and cluster.yaml, nodes/*.yaml) as Coxswain
reads them: directories recursively, *.yaml, *.yml and *.json, hidden
directories skipped. PATH defaults to the current directory.

Exit status: 0 no errors (warnings allowed), 1 errors, 2 wrong usage.
`;

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const format = outputFormat(values.output, ['text', 'json'] as const, 'text');
  const paths = positionals.length > 0 ? positionals : ['.'];
  for (const given of paths) {
    try {
      await access(path.resolve(io.cwd, given));
    } catch {
      throw new UsageError(`${given}: no such file or directory`);
    }
  }
  const files = await readManifestFiles(paths, io.cwd);
  const { store, diagnostics } = loadManifests(files);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (format === 'json') {
    io.stdout(`${JSON.stringify(diagnostics, null, 2)}\n`);
  } else {
    for (const d of diagnostics) io.stdout(`${formatDiagnostic(d)}\n`);
    const summary = `${files.length} file${files.length === 1 ? '' : 's'}, ${store.size} object${store.size === 1 ? '' : 's'}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
    (errors ? io.stderr : io.stdout)(`${summary}\n`);
  }
  return hasErrors(diagnostics) ? 1 : 0;
}
