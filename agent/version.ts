/**
 * The agent's version and build. The bundle (agent/bundle.ts) replaces the
 * placeholder with the hash of the bundle itself, so the engine can tell
 * whether a host runs its build; run from sources the build is "dev".
 */
import type { AgentVersion } from '../common/agent-api.ts';

const stamped: string = '@@COX_AGENT_BUILD@@';

export const AGENT_VERSION: AgentVersion = {
  version: '0.1.0',
  apiVersion: 'v1',
  build: stamped.startsWith('@@') ? 'dev' : stamped,
};
