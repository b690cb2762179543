/** Helpers for the source tests: manifests and commits in a real repository. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gitCli } from '../status/testing.ts';

export function podManifest(name: string, image = 'coxswain/busybox:1'): string {
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  labels:\n    app: ${name}\nspec:\n  containers:\n    - name: app\n      image: ${image}\n`;
}

export function commitFiles(dir: string, files: Record<string, string | null>, message = 'change'): string {
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(dir, file);
    if (text === null) gitCli(dir, ['rm', '-q', file]);
    else {
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, text);
      gitCli(dir, ['add', file]);
    }
  }
  gitCli(dir, ['commit', '-q', '-m', message]);
  return gitCli(dir, ['rev-parse', 'HEAD']);
}

