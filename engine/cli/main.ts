import { describeError } from '../../common/errors.ts';

/** What a command gets from the entry point: arguments and where to print. */
export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export type Command = (args: string[], io: CommandIO) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<{ run: Command }>;
}

const commands: Record<string, CommandEntry> = {
  validate: { summary: 'Validate manifests: cox validate [PATH...] [-o json]', load: () => import('./validate.ts') },
  plan: { summary: 'Plan the desired state against observed status: cox plan [--repo DIR] [--rev REV] [-o text|json|markdown]', load: () => import('./plan.ts') },
  get: { summary: 'List objects from the status branch: cox get pods|deployments|services|nodes [NAME]', load: () => import('./get.ts') },
  describe: { summary: 'Spec, status and history of one object: cox describe KIND NAME', load: () => import('./describe.ts') },
  history: { summary: 'The audit trail from status commits: cox history [KIND/NAME] [--since DATE]', load: () => import('./history.ts') },
  engine: { summary: 'Run the engine: cox engine --repo PATH|URL [--once]', load: () => import('./engine.ts') },
  rollout: { summary: 'Watch a rollout: cox rollout status deployment/NAME', load: () => import('./rollout.ts') },
  rollback: { summary: 'Revert a Deployment with a commit: cox rollback deployment/NAME [--to REV]', load: () => import('./rollback.ts') },
  logs: { summary: 'Container logs through the agent: cox logs POD [-c C] [-f] [--tail N]', load: () => import('./logs.ts') },
  lab: { summary: 'A multi-host lab on this machine: cox lab up|down|status|exec', load: () => import('./lab.ts') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return `cox — GitOps for a handful of Linux hosts\n\nUsage: cox COMMAND [ARGS]\n\nCommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? 0 : 2;
  }
  const entry = commands[name];
  if (!entry) {
    io.stderr(`cox: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(rest, io);
  } catch (err) {
    // By code, not instanceof: under mocha with tsx a module can load twice and classes stop being identical.
    if ((err as { code?: unknown } | null)?.code === 'Usage') {
      io.stderr(`cox ${name}: ${describeError(err)}\n`);
      return 2;
    }
    io.stderr(`cox ${name}: ${describeError(err)}\n`);
    if (process.env.COX_DEBUG && err instanceof Error) io.stderr(`${err.stack}\n`);
    return 1;
  }
}

function defaultIO(): CommandIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
  };
}
