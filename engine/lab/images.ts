/**
 * The lab's images, built offline (no registry is reachable): each is one
 * rootfs tar imported with `podman import` into an image store of its own,
 * named by the hash of everything that goes into it and kept under
 * /var/cache/coxswain/images. Hosts list the stores read-only in
 * `additionalimagestores`, so a lab comes up without copying any image.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { must, run } from './process.ts';

export const IMAGE_CACHE = '/var/cache/coxswain/images';
/** Bump when the way images are assembled changes, so cached stores are rebuilt. */
const RECIPE_VERSION = 1;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ImageRecipe {
  /** e.g. coxswain/busybox:1 */
  image: string;
  /** Files copied from this machine: source path -> path in the image. */
  files: { source: string; target: string }[];
  symlinks: { link: string; target: string }[];
  texts: { path: string; content: string }[];
  dirs: { path: string; mode: number }[];
  /** Dockerfile-style `podman import --change` instructions. */
  changes: string[];
}

const baseTexts = [
  { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
  { path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
];
const baseDirs = [
  { path: '/tmp', mode: 0o1777 },
  { path: '/root', mode: 0o700 },
];

export async function busyboxRecipe(): Promise<ImageRecipe> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new ConfigError('busybox not found: install the Debian package busybox-static');
  const applets = (await must([busybox, '--list-full'])).split('\n').filter(Boolean);
  return {
    image: 'coxswain/busybox:1',
    files: [{ source: busybox, target: '/bin/busybox' }],
    symlinks: applets.filter((a) => a !== 'bin/busybox').map((a) => ({ link: `/${a}`, target: '/bin/busybox' })),
    texts: baseTexts,
    dirs: baseDirs,
    changes: [`ENV ${PATH_ENV}`, 'CMD ["/bin/sh"]'],
  };
}

let nodeFilesOnce: Promise<{ source: string; target: string }[]> | undefined;

/** The node binary and the shared libraries `ldd` lists, at the paths ldd names. */
export function nodeFiles(): Promise<{ source: string; target: string }[]> {
  nodeFilesOnce ??= listNodeFiles();
  return nodeFilesOnce;
}

async function listNodeFiles(): Promise<{ source: string; target: string }[]> {
  const node = '/usr/bin/node';
  if (!existsSync(node)) throw new ConfigError(`${node} not found: the node image copies this machine's Node.js`);
  const libs = [...(await must(['ldd', node])).matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]);
  return [{ source: node, target: node }, ...libs.map((lib) => ({ source: lib, target: lib }))];
}

export async function nodeRecipe(): Promise<ImageRecipe> {
  return {
    image: 'coxswain/node:20',
    files: await nodeFiles(),
    symlinks: [],
    texts: baseTexts,
    dirs: baseDirs,
    changes: [`ENV ${PATH_ENV}`, 'CMD ["/usr/bin/node"]'],
  };
}

/** An example app: the node image plus the app folder at /app, started with `node /app/server.js`. */
export async function appRecipe(appDir: string, app: string): Promise<ImageRecipe> {
  const node = await nodeRecipe();
  const files = listFiles(appDir).map((file) => ({ source: file, target: join('/app', relative(appDir, file)) }));
  return {
    ...node,
    image: `coxswain-examples/${app}:1`,
    files: [...node.files, ...files],
    changes: [`ENV ${PATH_ENV}`, 'WORKDIR /app', 'CMD ["/usr/bin/node", "/app/server.js"]'],
  };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== 'node_modules' && !e.name.startsWith('.'))
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []))
    .sort();
}

/** The lab's recipes: busybox, node, and one per examples app folder that has a server.js. */
export async function labRecipes(appsDir: string): Promise<ImageRecipe[]> {
  const recipes = [await busyboxRecipe(), await nodeRecipe()];
  if (existsSync(appsDir)) {
    for (const app of readdirSync(appsDir).sort()) {
      if (existsSync(join(appsDir, app, 'server.js'))) recipes.push(await appRecipe(join(appsDir, app), app));
    }
  }
  return recipes;
}

/** Content hashes by path, size, mtime and inode, kept across processes so `lab up` does not re-read 100 MB of node each time. */
const HASH_MEMO = join(IMAGE_CACHE, 'content-hashes.json');
let contentHashes: Map<string, string> | undefined;
let memoDirty = false;

function memo(): Map<string, string> {
  if (!contentHashes) {
    try {
      contentHashes = new Map(Object.entries(JSON.parse(readFileSync(HASH_MEMO, 'utf8')) as Record<string, string>));
    } catch {
      contentHashes = new Map();
    }
  }
  return contentHashes;
}

function saveMemo(): void {
  if (!memoDirty || !contentHashes || !existsSync(IMAGE_CACHE)) return;
  const tmp = `${HASH_MEMO}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(Object.fromEntries([...contentHashes].slice(-500))));
  renameSync(tmp, HASH_MEMO);
  memoDirty = false;
}

function fileHash(path: string): string {
  const stat = statSync(path);
  const key = `${path}:${stat.size}:${stat.mtimeMs}:${stat.ino}`;
  let hash = memo().get(key);
  if (!hash) {
    hash = createHash('sha256').update(readFileSync(path)).digest('hex');
    memo().set(key, hash);
    memoDirty = true;
  }
  return hash;
}

/** The cache key: the recipe itself plus the content of every file it copies. */
export function recipeHash(recipe: ImageRecipe): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: RECIPE_VERSION, ...recipe, files: recipe.files.map((f) => ({ ...f, sha256: fileHash(f.source) })) }));
  return h.digest('hex').slice(0, 16);
}

export function storePath(recipe: ImageRecipe, cacheDir = IMAGE_CACHE): string {
  return join(cacheDir, `${recipe.image.replace(/[/:]/g, '_')}-${recipeHash(recipe)}`);
}

/** Lays the rootfs out in staging, ready for tar. */
export function stageRootfs(recipe: ImageRecipe, staging: string): void {
  for (const d of recipe.dirs) {
    mkdirSync(join(staging, d.path), { recursive: true });
    chmodSync(join(staging, d.path), d.mode);
  }
  for (const f of recipe.files) {
    mkdirSync(dirname(join(staging, f.target)), { recursive: true });
    copyFileSync(f.source, join(staging, f.target));
    chmodSync(join(staging, f.target), statSync(f.source).mode & 0o7777);
  }
  for (const t of recipe.texts) {
    mkdirSync(dirname(join(staging, t.path)), { recursive: true });
    writeFileSync(join(staging, t.path), t.content);
  }
  for (const s of recipe.symlinks) {
    const link = join(staging, s.link);
    if (existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(s.target, link);
  }
}

/**
 * Imports the recipe into a fresh store at storeDir. Podman runs in a mount
 * namespace with private /run and /dev/shm, so it shares no state with any
 * other podman on the machine.
 */
export async function buildStore(recipe: ImageRecipe, storeDir: string): Promise<void> {
  const work = `${storeDir}.tmp-${process.pid}-${Date.now()}`;
  const staging = join(work, 'rootfs');
  const tar = join(work, 'rootfs.tar');
  const store = join(work, 'store');
  try {
    mkdirSync(staging, { recursive: true });
    stageRootfs(recipe, staging);
    await must(['tar', '-C', staging, '--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '.']);
    const script = 'mount -t tmpfs cox-build /run && mount -t tmpfs cox-build /dev/shm && exec "$@"';
    const podman = ['podman', '--root', store, '--runroot', '/run/cox-build', '--storage-driver', 'overlay', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--tmpdir', '/run/cox-build-tmp'];
    const changes = recipe.changes.flatMap((c) => ['--change', c]);
    const result = await run(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...podman, 'import', '--quiet', ...changes, tar, recipe.image], { timeoutMs: 300000 });
    if (result.code !== 0) throw new Error(`podman import ${recipe.image}: ${result.stderr.trim()}`);
    rmSync(join(store, 'libpod'), { recursive: true, force: true });
    try {
      renameSync(store, storeDir);
    } catch (err) {
      if (!existsSync(storeDir)) throw err;
      // another lab built the same store meanwhile: theirs is identical
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Makes sure every lab image has a store in the cache; returns the store paths for additionalimagestores. */
export async function ensureImages(options: { appsDir: string; onProgress?: (line: string) => void; cacheDir?: string }): Promise<string[]> {
  const progress = options.onProgress ?? (() => {});
  const cacheDir = options.cacheDir ?? IMAGE_CACHE;
  mkdirSync(cacheDir, { recursive: true });
  const stores: string[] = [];
  for (const recipe of await labRecipes(options.appsDir)) {
    const dir = storePath(recipe, cacheDir);
    if (!existsSync(dir)) {
      const started = Date.now();
      progress(`image ${recipe.image}: building into ${dir}`);
      await buildStore(recipe, dir);
      progress(`image ${recipe.image}: built in ${Date.now() - started} ms`);
    } else {
      const now = new Date();
      utimesSync(dir, now, now);
    }
    stores.push(dir);
  }
  saveMemo();
  for (const removed of pruneImageStores(cacheDir, new Set([...stores, ...storesInUse()]))) progress(`image store ${removed}: removed (unused)`);
  return stores;
}

/** The image stores that running lab hosts list in their storage.conf (found through their PID 1's init.sh). */
export function storesInUse(): string[] {
  const stores: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline: string[];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const init = cmdline.find((a) => a.endsWith('/init.sh'));
    if (!cmdline[0]?.endsWith('catatonit') || !init) continue;
    try {
      const conf = readFileSync(join(dirname(init), 'etc-containers', 'storage.conf'), 'utf8');
      const list = /^additionalimagestores = (\[.*\])$/m.exec(conf);
      if (list) stores.push(...(JSON.parse(list[1]) as string[]));
    } catch {
      // a host being torn down right now
    }
  }
  return stores;
}

/**
 * Removes stores neither kept nor used for an hour (a store is touched each
 * time a lab comes up with it), and builds abandoned for as long, so image
 * stores of edited example apps do not pile up. Returns what it removed.
 */
export function pruneImageStores(cacheDir: string, keep: Set<string>, now = Date.now(), idleMs = 3_600_000): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync(cacheDir)) {
    const path = join(cacheDir, entry);
    if (keep.has(path) || !/-[0-9a-f]{16}(\.tmp-\d+-\d+)?$/.test(entry)) continue;
    if (now - statSync(path).mtimeMs < idleMs) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}
