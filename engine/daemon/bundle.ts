/** The agent bundle the engine uploads to hosts (built by agent/bundle.ts, once per engine start). */
import { ConfigError } from '../../common/errors.ts';
import type { AgentBundle } from '../hosts/bootstrap.ts';

export async function agentBundle(): Promise<AgentBundle> {
  const modulePath = '../../agent/bundle.ts';
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modulePath)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`cannot build the agent bundle: ${(err as Error).message}`);
  }
  const build = (mod.buildAgentBundle ?? mod.bundleAgent ?? mod.build) as (() => Promise<AgentBundle>) | undefined;
  if (typeof build !== 'function') throw new ConfigError('agent/bundle.ts exports no bundle builder');
  return build();
}
