import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A directory that cannot be made: `code` is mkdir(2)'s (ENOENT, ENOTDIR, EEXIST, EACCES, …). */
export class DirectoryError extends Error {
  override name = 'DirectoryError';
  constructor(
    readonly code: string,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The path itself cannot be a directory (not a matter of rights or of a full disk). */
  get impossible(): boolean {
    return IMPOSSIBLE.has(this.code);
  }
}

/** mkdir(2) answers that no retry and no permission change can turn into a directory. */
const IMPOSSIBLE = new Set(['ENOENT', 'ENOTDIR', 'EEXIST', 'EROFS', 'ENAMETOOLONG', 'ELOOP', 'EINVAL']);

/**
 * Makes `dir` and each missing parent, one mkdir(2) per level from the deepest one that exists,
 * and returns the directories it made, deepest last (so a caller can undo them in reverse).
 *
 * Why not `mkdirSync(dir, { recursive: true })`: under a parent that exists but cannot hold
 * directories (procfs: `mkdir /proc/x` answers ENOENT), Node's recursive mkdir steps back to the
 * parent on ENOENT and forward again on EEXIST for ever, at 100% CPU (seen on Node 20.20). Here each
 * level is tried once: a refusal is thrown at once.
 * @throws DirectoryError with one line naming the path and the errno code; `impossible` tells a
 *   path that can never be a directory (ENOENT under an existing parent, a file in the way,
 *   a read-only file system) from a refusal (EACCES, EPERM) or a failing disk (ENOSPC, EIO).
 */
export function createDirectories(dir: string, mode = 0o777): string[] {
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    let exists = false;
    try {
      exists = statSync(p).isDirectory();
      if (!exists) throw new DirectoryError('ENOTDIR', dir, `cannot create the directory ${dir}: ${p} is not a directory (ENOTDIR)`);
    } catch (err) {
      if (err instanceof DirectoryError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      // ENOTDIR: a file further up, which the walk up names.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new DirectoryError(code, dir, `cannot create the directory ${dir}: ${p} cannot be read (${code})`, { cause: err });
    }
    if (exists) break;
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  const made: string[] = [];
  for (const p of missing) {
    try {
      mkdirSync(p, { mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      // Another process made it meanwhile: that is what was asked for.
      if (code === 'EEXIST' && isDirectory(p)) continue;
      // Leave nothing half made behind.
      for (const m of made.reverse()) {
        try {
          rmdirSync(m);
        } catch {
          // Not empty any more (another writer): it is no longer ours to remove.
        }
      }
      const why = code === 'ENOENT' ? `${dirname(p)} cannot hold directories` : code === 'EEXIST' ? `${p} exists and is not a directory` : `mkdir ${p} failed`;
      throw new DirectoryError(code, dir, `cannot create the directory ${dir}: ${why} (${code})`, { cause: err });
    }
    made.push(p);
  }
  return made;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
