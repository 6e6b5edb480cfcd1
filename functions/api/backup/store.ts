import { createReadStream, createWriteStream, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createDirectories, DirectoryError } from '../directories';
import { BackupError } from './errors';
import { DATA_OBJECT, MANIFEST_OBJECT, backupTime, isBackupId } from './format';

/** One backup as a listing sees it. `complete` = its manifest exists (only those restore). */
export interface StoredBackup {
  id: string;
  complete: boolean;
  /** Size of the data object in bytes, when it exists. */
  bytes?: number;
  takenAt: Date;
}

/**
 * Where backups live: `<location>/<id>/<object>`. Objects are written once and never replaced or
 * deleted by this code (expiry is the storage's job: a lifecycle rule, or a person for a directory).
 */
export interface BackupStore {
  /** For messages: the URI without credentials (there are none in a BACKUP_URI). */
  readonly location: string;
  write(id: string, object: string, body: Readable | Buffer, contentType: string): Promise<void>;
  /** Throws BackupError('not_found') when the object does not exist. */
  read(id: string, object: string): Promise<Readable>;
  /** Every backup under the location, oldest first. */
  list(): Promise<StoredBackup[]>;
  /**
   * Removes what a failed backup wrote, when the store may delete (a directory). S3 has none: its
   * writer may not delete (Object Lock), a failed upload leaves no object (a single PUT is all or
   * nothing, a failed multipart upload is aborted), and only a failed manifest PUT after its data
   * leaves an incomplete backup, which is never restored and is expired by the lifecycle rule.
   * Never throws: the failure that made the backup fail is the one to report.
   */
  discard?(id: string): Promise<void>;
}

/**
 * BACKUP_URI → a store: `s3://bucket/prefix` (the AWS SDK's standard configuration: AWS_REGION,
 * credentials from the default chain — IRSA in the cluster —, AWS_ENDPOINT_URL_S3 for another
 * endpoint), or a local directory (a path or a file:// URL).
 */
export async function openStore(uri: string | undefined, env: Record<string, string | undefined> = process.env): Promise<BackupStore> {
  const value = uri?.trim();
  if (!value) throw new BackupError('config', 'BACKUP_URI is not set: give s3://<bucket>/<prefix> or a local directory');
  if (value.startsWith('s3://')) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(value);
    if (!m) throw new BackupError('config', 'BACKUP_URI is not a valid s3://<bucket>/<prefix> URI (bucket names are 3-63 lowercase letters, digits, dots and hyphens)');
    const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
    return (await import('./s3-store')).createS3Store(m[1]!, prefix, env);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !value.startsWith('file://')) {
    throw new BackupError('config', `BACKUP_URI must be s3://<bucket>/<prefix> or a local directory, not a ${value.split(':')[0]}: URI`);
  }
  const dir = value.startsWith('file://') ? fileURLToPath(value) : isAbsolute(value) ? value : resolve(value);
  return new DirectoryStore(dir);
}

/** Backups in a local directory. Files appear under their final name only when complete (rename). */
export class DirectoryStore implements BackupStore {
  readonly location: string;
  constructor(readonly dir: string) {
    this.location = dir;
  }

  async write(id: string, object: string, body: Readable | Buffer, _contentType: string): Promise<void> {
    const folder = join(this.dir, id);
    let made: string[];
    try {
      made = createDirectories(folder, 0o700);
    } catch (err) {
      throw directoryError(err);
    }
    const target = join(folder, object);
    const partial = `${target}.partial`;
    try {
      if (Buffer.isBuffer(body)) writeFileSync(partial, body, { mode: 0o600, flag: 'wx' });
      else await pipeline(body, createWriteStream(partial, { mode: 0o600, flags: 'wx' }));
      const fd = openSync(partial, 'r');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(partial, target);
    } catch (err) {
      rmSync(partial, { force: true });
      // The folders exist only with a file in them: a failed first write leaves none behind.
      for (const m of made.reverse()) removeIfEmpty(m);
      throw err instanceof BackupError ? err : fsError(err, `cannot write ${target}`);
    }
  }

  /** Removes `<dir>/<id>/` with the objects a backup writes (and their partial files), nothing else; never throws. */
  async discard(id: string): Promise<void> {
    if (!isBackupId(id)) return;
    const folder = join(this.dir, id);
    for (const object of [DATA_OBJECT, MANIFEST_OBJECT]) {
      for (const file of [object, `${object}.partial`]) {
        try {
          rmSync(join(folder, file), { force: true });
        } catch {
          // The folder could not be made in the first place (ENOTDIR): nothing to remove.
        }
      }
    }
    removeIfEmpty(folder);
  }

  async read(id: string, object: string): Promise<Readable> {
    const path = join(this.dir, id, object);
    try {
      statSync(path);
    } catch {
      throw new BackupError('not_found', `no backup ${id} in ${this.location} (${object} is missing)`);
    }
    return createReadStream(path);
  }

  async list(): Promise<StoredBackup[]> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(err, `cannot read ${this.dir}`);
    }
    return names
      .filter(isBackupId)
      .sort()
      .map((id) => {
        const size = (object: string) => {
          try {
            return statSync(join(this.dir, id, object)).size;
          } catch {
            return undefined;
          }
        };
        return { id, complete: size(MANIFEST_OBJECT) !== undefined, bytes: size(DATA_OBJECT), takenAt: backupTime(id) };
      });
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Missing, or holding something else: left as it is.
  }
}

/** BACKUP_URI names a place that cannot be a directory: a configuration error (exit 78), at once. */
function directoryError(err: unknown): BackupError {
  if (!(err instanceof DirectoryError)) return fsError(err, 'cannot create the backup folder');
  if (err.impossible) return new BackupError('config', `BACKUP_URI: ${err.message}`, { cause: err });
  return fsError(err, `BACKUP_URI: ${err.message.replace(/ \([A-Z]+\)$/, '')}`);
}

function fsError(err: unknown, what: string): BackupError {
  const code = (err as NodeJS.ErrnoException).code;
  return new BackupError(code === 'EACCES' || code === 'EPERM' ? 'denied' : 'unreachable', `${what}: ${code ?? String(err)}`, { cause: err });
}
