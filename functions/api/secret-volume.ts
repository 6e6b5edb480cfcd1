import { readlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

/**
 * The version of a mounted Kubernetes Secret volume: the target of its `..data` symlink.
 *
 * The kubelet never edits files in place: each key is a symlink into `..data`, and an update writes
 * a new timestamped directory and renames `..data` over to it. Returns undefined for a plain
 * directory (no `..data`), where the caller compares contents instead.
 */
export function volumeVersion(dir: string): string | undefined {
  try {
    return readlinkSync(join(dir, '..data'));
  } catch {
    return undefined;
  }
}

/**
 * Calls onChange whenever `version()` returns a new value. fs.watch on `dir` sees the kubelet's
 * rename at once; the poll every `pollMs` is the safety net for filesystems where watch events get
 * lost. `version` may throw (mid-swap, unreadable): that round is skipped. Returns a stop function;
 * neither the watcher nor the timer keeps the process alive.
 */
export function watchVolume(dir: string, version: () => string, onChange: () => void, pollMs = 2000): () => void {
  const safe = () => {
    try {
      return version();
    } catch {
      return undefined;
    }
  };
  let last = safe();
  const check = () => {
    const now = safe();
    if (now !== undefined && now !== last) {
      last = now;
      onChange();
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, check);
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(check, pollMs);
  timer.unref();
  return () => {
    watcher?.close();
    clearInterval(timer);
  };
}
