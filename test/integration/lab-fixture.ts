/**
 * Mocha hooks that give an integration test suite a lab of its own:
 *
 *   const handle = useLab({ index: 3, nodes: 2 });
 *   it('...', async () => { await labExec(handle.lab, 'h1', ['podman', 'ps']); });
 *
 * Each suite uses its own index so parallel runs never collide. Whatever a
 * crashed earlier run with the same index left behind is removed before the
 * lab comes up, and the lab is torn down after the suite (also when bringing
 * it up failed half-way).
 *
 * Suites pick their index with labIndex(n): COX_LAB_INDEX_OFFSET (default 0)
 * is added to it, so two people can run the same suite on one machine at once.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanLab, labDown, labUp, readLab, type Lab } from '../../engine/lab/index.ts';

export interface LabFixtureOptions {
  index: number;
  nodes?: number;
  name?: string;
  /** Default: $TMPDIR/cox-lab-<index>. */
  dir?: string;
  /** Build/attach the lab images (default true). */
  images?: boolean;
  /** Write dir/cluster-repo (default true). */
  clusterRepo?: boolean;
  /** The examples repository (apps/<app>/server.js become images; its files seed the cluster repository); default the project's. */
  examplesDir?: string;
  /** Print progress lines on stderr (default: when COX_LAB_VERBOSE is set). */
  verbose?: boolean;
}

export interface LabHandle {
  /** The running lab; throws when read before the suite's before hook has run. */
  readonly lab: Lab;
  readonly dir: string;
}

export function labFixtureDir(index: number): string {
  return join(tmpdir(), `cox-lab-${index}`);
}

/** The lab index a suite asking for `index` really uses (see COX_LAB_INDEX_OFFSET). */
export function labIndex(index: number): number {
  return index + Number(process.env.COX_LAB_INDEX_OFFSET ?? 0);
}

export function useLab(options: LabFixtureOptions): LabHandle {
  const dir = options.dir ?? labFixtureDir(options.index);
  const verbose = options.verbose ?? Boolean(process.env.COX_LAB_VERBOSE);
  let current: Lab | undefined;

  before(async function () {
    this.timeout(300_000);
    current = await labUp({
      name: options.name ?? `test-${options.index}`,
      index: options.index,
      nodes: options.nodes ?? 2,
      dir,
      images: options.images,
      clusterRepo: options.clusterRepo,
      examplesDir: options.examplesDir,
      onProgress: verbose ? (line) => process.stderr.write(`    [lab ${options.index}] ${line}\n`) : undefined,
    });
  });

  after(async function () {
    this.timeout(120_000);
    const recorded = readLab(dir);
    if (recorded) await labDown(recorded);
    await cleanLab(options.index, dir);
    current = undefined;
  });

  return {
    get lab(): Lab {
      if (!current) throw new Error(`lab ${options.index} is not up (useLab's before hook has not run or failed)`);
      return current;
    },
    dir,
  };
}
