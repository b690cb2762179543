/**
 * The agent bundle the engine uploads to hosts, built once per engine start:
 * agent/bundle.ts's builder when it is there, else the same recipe here
 * (esbuild: agent/main.ts into one ES module, the build placeholder of
 * agent/version.ts replaced by the hash of the bundle).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../common/errors.ts';
import type { AgentBundle } from '../hosts/bootstrap.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PLACEHOLDER = '@@COX_AGENT_BUILD@@';

export async function agentBundle(): Promise<AgentBundle> {
  const builder = path.join(PROJECT_ROOT, 'agent/bundle.ts');
  if (existsSync(builder)) {
    const mod = (await import(builder)) as Record<string, unknown>;
    const build = Object.entries(mod).find(([name, value]) => typeof value === 'function' && /bundle/i.test(name))?.[1] as (() => Promise<AgentBundle | { contents: Buffer | string; build: string }>) | undefined;
    if (build) {
      const bundle = await build();
      return { contents: Buffer.isBuffer(bundle.contents) ? bundle.contents : Buffer.from(bundle.contents), build: bundle.build };
    }
  }
  return buildHere();
}

async function buildHere(): Promise<AgentBundle> {
  const esbuild = await import('esbuild');
  let text: string;
  try {
    const result = await esbuild.build({
      stdin: { contents: "import { main } from './agent/main.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n", resolveDir: PROJECT_ROOT, sourcefile: 'cox-agent.ts', loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      legalComments: 'none',
      banner: { js: "import { createRequire as __coxRequire } from 'node:module'; const require = __coxRequire(import.meta.url);" },
    });
    text = result.outputFiles[0].text;
  } catch (err) {
    throw new ConfigError(`cannot build the agent bundle: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!text.includes(PLACEHOLDER)) throw new ConfigError('cannot build the agent bundle: agent/version.ts has no build placeholder');
  const build = createHash('sha256').update(text).digest('hex');
  return { contents: Buffer.from(text.replaceAll(PLACEHOLDER, build)), build };
}
