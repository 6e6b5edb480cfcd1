import { createReadStream, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
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
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fsError(err, `cannot create ${folder}`);
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
      throw err instanceof BackupError ? err : fsError(err, `cannot write ${target}`);
    }
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

function fsError(err: unknown, what: string): BackupError {
  const code = (err as NodeJS.ErrnoException).code;
  return new BackupError(code === 'EACCES' || code === 'EPERM' ? 'denied' : 'unreachable', `${what}: ${code ?? String(err)}`, { cause: err });
}
