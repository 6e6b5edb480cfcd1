import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * One process per data directory. PGlite is PostgreSQL in single-user mode without a
 * postmaster, so nothing stops a second process from opening the same files: both accept
 * writes with the same ids and one process's acknowledged writes are lost. The lock is a
 * file beside the directory (`<dir>.lock`) holding the owner's pid and host.
 *
 * A lock whose pid is no longer running on this host (the owner was killed) is stale and is
 * taken over. Pids are only checked on the same host; a lock written by another host (a shared
 * volume) is treated as held.
 */
export class DirectoryLockedError extends Error {
  override name = 'DirectoryLockedError';
  readonly code = 'PGLITE_LOCKED';
  constructor(
    readonly dir: string,
    readonly pid: number,
    readonly host: string,
  ) {
    super(
      `PGlite directory ${dir} is in use by process ${pid}${host !== hostname() ? ` on ${host}` : ''} ` +
        `(lock file ${dir}.lock). Stop that process, or set PGLITE_DIR to another directory.`,
    );
  }
}

interface Owner {
  pid: number;
  host: string;
}

function readOwner(path: string): Owner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host };
  } catch {
    // unreadable or half-written: handled as stale below
  }
  return undefined;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Takes the lock for `dir` or throws DirectoryLockedError naming the holder.
 * Returns a release function (also run on process exit). Creating the lock is atomic
 * (link(2) fails when the name exists), so two processes starting together cannot both win.
 */
export function lockDirectory(dir: string): () => void {
  const path = `${dir}.lock`;
  const me: Owner = { pid: process.pid, host: hostname() };
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, JSON.stringify(me));
  try {
    for (let tries = 0; ; tries++) {
      try {
        linkSync(mine, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 5) throw err;
      }
      const owner = readOwner(path);
      if (owner && owner.pid === me.pid && owner.host === me.host) break; // already ours
      if (owner && (owner.host !== me.host || running(owner.pid))) throw new DirectoryLockedError(dir, owner.pid, owner.host);
      // Stale: move it aside under a unique name (only one contender's rename succeeds), then
      // check that what was moved is the stale lock and not a newer owner's.
      const aside = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // someone else moved it first; look again
      }
      const moved = readOwner(aside);
      if (moved && moved.pid !== owner?.pid && (moved.host !== me.host || running(moved.pid))) {
        renameSync(aside, path); // a live owner took it in between: put it back
        throw new DirectoryLockedError(dir, moved.pid, moved.host);
      }
      unlinkSync(aside);
    }
  } finally {
    unlinkSync(mine);
  }

  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const owner = readOwner(path);
    if (owner?.pid === me.pid && owner.host === me.host) unlinkSync(path);
  };
  process.on('exit', release);
  return release;
}

/**
 * Throws DirectoryLockedError when another live process holds `dir`'s lock; takes nothing. Hosts
 * call it before they listen, so a second process stops before it announces itself (the lock
 * itself is taken when PGlite opens, lockDirectory).
 */
export function assertUnlocked(dir: string): void {
  const owner = readOwner(`${dir}.lock`);
  if (owner && owner.pid !== process.pid && (owner.host !== hostname() || running(owner.pid))) throw new DirectoryLockedError(dir, owner.pid, owner.host);
}
