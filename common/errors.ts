/**
 * The one error catalogue. Low-level failures are translated once, at the
 * boundary where they happen, into one of these; the CLI, the logs and the
 * status files print them the same way (`code` is stable, `data` is what a
 * script needs).
 */
export class CoxError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly data: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  toJSON(): { code: string; message: string; data: Record<string, unknown> } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

/** Wrong command-line use: exit 2, no stack trace. */
export class UsageError extends CoxError {
  constructor(message: string) {
    super('Usage', message);
  }
}

/** Configuration that cannot work (a missing file, a bad flag value): one clear line, exit 1. */
export class ConfigError extends CoxError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('Config', message, data);
  }
}

export class HostKeyMismatch extends CoxError {
  constructor(node: string, expected: string[], got: string) {
    super('HostKeyMismatch', `host key mismatch for ${node}: expected ${expected.join(' or ')}, got ${got}`, { node, expected, got });
  }
}

export class AgentUnreachable extends CoxError {
  constructor(node: string, reason: string, options?: { cause?: unknown }) {
    super('AgentUnreachable', `agent on ${node} unreachable: ${reason}`, { node, reason }, options);
  }
}

export class StaleGeneration extends CoxError {
  constructor(offered: number, accepted: number) {
    super('StaleGeneration', `generation ${offered} is older than the accepted generation ${accepted}`, { offered, accepted });
  }
}

export class RuntimeError extends CoxError {
  constructor(operation: string, status: number, message: string) {
    super('RuntimeError', `container runtime: ${operation}: ${message}`, { operation, status });
  }
}

export class GitError extends CoxError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('GitError', message, data, options);
  }
}

/** A command the agent's service proxy ran (nft, ipvsadm, ip, conntrack) failed; the next sync starts over. */
export class ProxyCommandFailed extends CoxError {
  constructor(argv: string[], code: number, stderr: string) {
    super('ProxyCommandFailed', `proxy: \`${argv.join(' ')}\` failed (exit ${code}): ${stderr.trim().split('\n').slice(0, 5).join('; ')}`, { argv, code, stderr });
  }
}

/** A message suitable for a user: a CoxError's own sentence, anything else without its stack. */
export function describeError(err: unknown): string {
  if (err instanceof CoxError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A command the engine ran on a host over SSH failed (non-zero exit, signal or timeout). */
export class HostCommandFailed extends CoxError {
  constructor(node: string, command: string, reason: string, data: Record<string, unknown> = {}) {
    super('HostCommandFailed', `command on ${node} failed: ${command}: ${reason}`, { node, command, reason, ...data });
  }
}

/** A request to the agent's API that cannot be served as sent (a malformed body, an unknown pod): 400 or 404. */
export class AgentRequestError extends CoxError {
  constructor(readonly status: 400 | 404, message: string, data: Record<string, unknown> = {}) {
    super(status === 404 ? 'NotFound' : 'BadRequest', message, data);
  }
}

/** A Service CIDR or node port range with no free address or port left for a Service. */
export class RangeFull extends CoxError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('RangeFull', message, data);
  }
}
