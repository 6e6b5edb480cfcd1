import { chmodSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, mkdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A directory laid out and updated the way the kubelet writes a Secret volume (its AtomicWriter):
 *
 *   username -> ..data/username             one symlink per key, never rewritten in place
 *   ..data   -> ..2026_11_27_10_00_00.123  the version readers see
 *   ..2026_11_27_10_00_00.123/username     the files themselves (mode 0644 unless defaultMode says otherwise)
 *
 * An update writes a new timestamped directory, points `..data_tmp` at it, renames `..data_tmp`
 * over `..data` (the atomic switch), adds symlinks for new keys, removes those for dropped keys,
 * then deletes the old directory. A reader that opens `username` and `password` during a swap can
 * still see one from each version; only `..data` tells versions apart.
 */
export class KubeletSecretVolume {
  private constructor(readonly dir: string, private readonly mode: number) {}

  /** Creates the volume in a new temporary directory (or in `dir`, which must be empty or absent). */
  static create(payload: Record<string, string>, options: { dir?: string; defaultMode?: number } = {}): KubeletSecretVolume {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tasks-secret-volume-'));
    mkdirSync(dir, { recursive: true });
    const volume = new KubeletSecretVolume(dir, options.defaultMode ?? 0o644);
    volume.update(payload);
    return volume;
  }

  /** The timestamped directory `..data` points at now. */
  current(): string | undefined {
    try {
      return readlinkSync(join(this.dir, '..data'));
    } catch {
      return undefined;
    }
  }

  /** Publishes a new payload with the kubelet's write-then-rename sequence. */
  update(payload: Record<string, string>): void {
    for (const key of Object.keys(payload)) {
      if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.startsWith('..')) throw new Error(`invalid Secret key: ${key}`);
    }
    const previous = this.current();
    const oldKeys = previous ? readdirSync(join(this.dir, previous)) : [];

    const stamp = new Date().toISOString().replace(/[-T:]/g, '_').replace(/\.\d+Z$/, '');
    const versionDir = mkdtempSync(join(this.dir, `..${stamp}.`)).split('/').pop()!;
    // As the kubelet's newTimestampDir: 0755, so a container's non-root user can enter it.
    chmodSync(join(this.dir, versionDir), 0o755);
    for (const [key, value] of Object.entries(payload)) {
      writeFileSync(join(this.dir, versionDir, key), value, { mode: this.mode });
    }
    const tmpLink = join(this.dir, '..data_tmp');
    rmSync(tmpLink, { force: true });
    symlinkSync(versionDir, tmpLink);
    renameSync(tmpLink, join(this.dir, '..data'));

    for (const key of Object.keys(payload)) {
      if (!exists(join(this.dir, key))) symlinkSync(join('..data', key), join(this.dir, key));
    }
    for (const key of oldKeys) {
      if (!(key in payload)) rmSync(join(this.dir, key), { force: true });
    }
    if (previous) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
