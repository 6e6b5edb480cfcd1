import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseWholeNumber } from '../env.ts';
import { volumeVersion, watchVolume } from '../secret-volume.ts';

export interface DbCredentials {
  username: string;
  password: string;
  host?: string;
  port?: number;
  dbname?: string;
}

/**
 * Database credentials from a mounted Kubernetes Secret volume.
 *
 * The kubelet never edits files in place: each key is a symlink into `..data`, and an
 * update writes a new timestamped directory and renames `..data` to point at it. So the
 * target of `..data` identifies a version; outside Kubernetes (plain files) a hash of the
 * contents does the same job.
 */
export class MountedCredentials {
  constructor(readonly dir: string) {}

  read(): DbCredentials {
    const username = this.file('username', true)!;
    const password = this.file('password', true)!;
    const port = this.file('port', false);
    return {
      username,
      password,
      host: this.file('host', false),
      // NaN when not a whole number as every setting is written (env.ts): config.ts refuses it.
      port: port ? (parseWholeNumber(port) ?? Number.NaN) : undefined,
      dbname: this.file('dbname', false),
    };
  }

  /** An identifier that changes whenever the mounted values change. */
  version(): string {
    const linked = volumeVersion(this.dir);
    if (linked !== undefined) return linked;
    const h = createHash('sha256');
    for (const key of ['username', 'password', 'host', 'port', 'dbname']) h.update(`${key}=${this.file(key, false) ?? ''}\n`);
    return h.digest('hex');
  }

  /**
   * Calls onChange when the version changes. fs.watch sees the kubelet's rename at once;
   * the poll is the safety net for filesystems where watch events get lost.
   */
  watch(onChange: () => void, pollMs = 2000): () => void {
    return watchVolume(this.dir, () => this.version(), onChange, pollMs);
  }

  private file(key: string, required: boolean): string | undefined {
    try {
      const value = readFileSync(join(this.dir, key), 'utf8').trim();
      if (value === '' && required) throw new Error('empty');
      return value === '' ? undefined : value;
    } catch {
      if (required) {
        // Name the file, never its content.
        throw new Error(`DB_CREDENTIALS_DIR: cannot read a non-empty "${key}" file in ${this.dir}`);
      }
      return undefined;
    }
  }
}
