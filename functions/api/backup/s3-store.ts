import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BackupError } from './errors';
import { DATA_OBJECT, MANIFEST_OBJECT, backupTime, isBackupId } from './format';
import type { BackupStore, StoredBackup } from './store';

/**
 * Backups in S3 under `s3://<bucket>/<prefix>/<id>/<object>`.
 * - Every write is conditional (`If-None-Match: *`): an object is never overwritten, and a bucket
 *   policy can refuse any write without the condition (secrets/aws/).
 * - With BACKUP_KMS_KEY_ID every object is encrypted with SSE-KMS under that key.
 * - The data object streams in as a multipart upload (@aws-sdk/lib-storage): never all in memory.
 * - Retries are the SDK's (standard mode: 3 attempts with exponential backoff, AWS_MAX_ATTEMPTS
 *   to change); an error after them is mapped to a BackupError kind with one line of text.
 * - A custom endpoint (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: MinIO, Ceph, a local stand-in) is
 *   addressed path-style, which those expect; AWS itself virtual-hosted style.
 */
export function createS3Store(bucket: string, prefix: string, env: Record<string, string | undefined>): BackupStore {
  const customEndpoint = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION && !customEndpoint) {
    throw new BackupError('config', 'AWS_REGION is not set: the region of the backup bucket is needed to reach S3');
  }
  const client = new S3Client({ forcePathStyle: customEndpoint, ...(env.AWS_REGION || env.AWS_DEFAULT_REGION ? {} : { region: 'us-east-1' }) });
  const kmsKey = env.BACKUP_KMS_KEY_ID?.trim() || undefined;
  const encryption = kmsKey ? { ServerSideEncryption: 'aws:kms' as ServerSideEncryption, SSEKMSKeyId: kmsKey } : {};
  const key = (id: string, object: string) => (prefix ? `${prefix}/${id}/${object}` : `${id}/${object}`);
  const location = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;

  return {
    location,
    async write(id, object, body, contentType) {
      const params = { Bucket: bucket, Key: key(id, object), ContentType: contentType, IfNoneMatch: '*', ...encryption };
      try {
        if (Buffer.isBuffer(body)) await client.send(new PutObjectCommand({ ...params, Body: body }));
        else await new Upload({ client, params: { ...params, Body: body }, queueSize: 2 }).done();
      } catch (err) {
        throw s3Error(err, `writing ${location}/${id}/${object}`, bucket);
      }
    },
    async read(id, object) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(id, object) }));
        return out.Body as Readable;
      } catch (err) {
        if (status(err) === 404 && errorName(err) !== 'NoSuchBucket') {
          throw new BackupError('not_found', `no backup ${id} in ${location} (${object} is missing)`);
        }
        throw s3Error(err, `reading ${location}/${id}/${object}`, bucket);
      }
    },
    async list() {
      const found = new Map<string, StoredBackup>();
      try {
        for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix ? `${prefix}/` : '' })) {
          for (const o of page.Contents ?? []) {
            const rest = (o.Key ?? '').slice(prefix ? prefix.length + 1 : 0).split('/');
            if (rest.length !== 2 || !isBackupId(rest[0]!)) continue;
            const [id, object] = rest as [string, string];
            const b = found.get(id) ?? { id, complete: false, takenAt: backupTime(id) };
            if (object === MANIFEST_OBJECT) b.complete = true;
            if (object === DATA_OBJECT) b.bytes = o.Size;
            found.set(id, b);
          }
        }
      } catch (err) {
        throw s3Error(err, `listing ${location}`, bucket);
      }
      return [...found.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    },
  };
}

const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const errorName = (err: unknown) => String((err as { name?: unknown; Code?: unknown }).name ?? '');

/** One line per failure, naming what was tried and what to check; never credentials. */
function s3Error(err: unknown, what: string, bucket: string): BackupError {
  const name = errorName(err);
  const code = String((err as { code?: unknown }).code ?? '');
  const http = status(err);
  if (name === 'NoSuchBucket') return new BackupError('config', `${what}: bucket ${bucket} does not exist`, { cause: err });
  if (name === 'PreconditionFailed' || http === 412) {
    return new BackupError('config', `${what}: the object already exists and backups are never overwritten`, { cause: err });
  }
  if (
    http === 401 ||
    http === 403 ||
    /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken|CredentialsProviderError|KMS\./.test(name)
  ) {
    return new BackupError('denied', `${what}: S3 refused the request (${name || http}); check the role or credentials and the bucket and key policies`, { cause: err });
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|TimeoutError|NetworkingError/.test(`${code} ${name} ${(err as Error).message ?? ''}`)) {
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return new BackupError('unreachable', `${what}: cannot reach S3${attempts ? ` after ${attempts} attempts` : ''} (${code || name})`, { cause: err });
  }
  return new BackupError('unreachable', `${what}: ${name || 'S3 error'}${http ? ` (HTTP ${http})` : ''}: ${(err as Error).message ?? err}`, { cause: err });
}
