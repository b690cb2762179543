/**
 * A map from file paths to values that is never changed in place: `with`
 * returns a new map that shares every directory it did not touch. A commit
 * that changed one file of a 10,000-file repository copies the entries of one
 * directory, not of the whole repository, and the map it was made from stays
 * as it was (an older commit's state is still in use while a newer one loads).
 */
export class PathMap<V> {
  private constructor(
    /** Directory -> (path -> value); a directory's map is shared between versions until it changes. */
    private readonly dirs: ReadonlyMap<string, ReadonlyMap<string, V>>,
    readonly size: number,
  ) {}

  static empty<V>(): PathMap<V> {
    return new PathMap(new Map(), 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PathMap<V> {
    return PathMap.empty<V>().with(entries);
  }

  get(path: string): V | undefined {
    return this.dirs.get(directoryOf(path))?.get(path);
  }

  has(path: string): boolean {
    return this.dirs.get(directoryOf(path))?.has(path) ?? false;
  }

  /** A new map with each path set to its value, or removed where the value is undefined. */
  with(changes: Iterable<readonly [string, V | undefined]>): PathMap<V> {
    const dirs = new Map(this.dirs);
    const copied = new Set<string>();
    let size = this.size;
    for (const [path, value] of changes) {
      const dir = directoryOf(path);
      let files = dirs.get(dir) as Map<string, V> | undefined;
      if (!copied.has(dir)) {
        files = new Map(files);
        dirs.set(dir, files);
        copied.add(dir);
      }
      size -= files!.has(path) ? 1 : 0;
      if (value === undefined) files!.delete(path);
      else files!.set(path, value);
      size += files!.has(path) ? 1 : 0;
    }
    for (const dir of copied) if (dirs.get(dir)!.size === 0) dirs.delete(dir);
    return new PathMap(dirs, size);
  }

  *entries(): IterableIterator<[string, V]> {
    for (const files of this.dirs.values()) yield* files;
  }

  *keys(): IterableIterator<string> {
    for (const files of this.dirs.values()) yield* files.keys();
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}

function directoryOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}
