import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from './api';

export interface S3StandIn {
  endpoint: string;
  bucket: string;
  /** The environment that points the real AWS SDK at the stand-in (its standard variables only). */
  env: Record<string, string>;
  /** Where the stand-in keeps objects on disk: `<dir>/<bucket>/<key>._S3rver_object`. */
  dir: string;
  stop(): Promise<void>;
}

/**
 * A local stand-in for Amazon S3: s3rver (an S3-compatible server written in Node) on a free port,
 * with one bucket. It speaks S3's REST API, so the real AWS SDK reaches it through
 * AWS_ENDPOINT_URL_S3 alone. What it does not do that S3 does: SSE-KMS (the headers are accepted
 * and ignored), bucket policies, Object Lock, conditional writes (If-None-Match is ignored) and the
 * SDK's default aws-chunked checksums (so the env asks the SDK for checksums only when required).
 */
export async function startS3StandIn(bucket = 'tasks-backups'): Promise<S3StandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-s3-'));
  const port = await freePort();
  const server = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    dir,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
