import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for AWS Secrets Manager, for tests only.
 *
 * It speaks the service's JSON 1.1 protocol over HTTP (`POST /`, `X-Amz-Target: secretsmanager.<Op>`),
 * so the real `@aws-sdk/client-secrets-manager` client talks to it through an endpoint override.
 * It keeps secrets and versions in memory and enforces the version-stage rules from the AWS docs:
 * one version per staging label, AWSPREVIOUS follows AWSCURRENT, ClientRequestToken idempotency,
 * RemoveFromVersionId must name the label's current holder. RotateSecret runs a registered
 * in-process rotation handler through the four steps, after answering, like the real service.
 * It does not check signatures, replicate, encrypt or schedule rotations, and RotateSecret with
 * RotateImmediately=false only turns rotation on (the service would also run testSecret once).
 */

export const DOUBLE_REGION = 'us-east-1';
export const DOUBLE_ACCOUNT = '123456789012';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
export const ROTATION_STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

export interface RotationEvent {
  Step: RotationStep;
  SecretId: string;
  ClientRequestToken: string;
}
export type RotationHandler = (event: RotationEvent) => Promise<unknown>;

export interface RotationRun {
  secretArn: string;
  versionId: string;
  stepsCompleted: RotationStep[];
  error?: string;
  done: Promise<void>;
}

interface Version {
  id: string;
  secretString?: string;
  secretBinary?: string;
  stages: Set<string>;
  created: number;
}

interface Secret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  created: number;
  changed: number;
  lastRotated?: number;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: Record<string, unknown>;
  tags: { Key: string; Value: string }[];
  versions: Map<string, Version>;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const now = () => Date.now() / 1000; // awsJson1_1 timestamps are epoch seconds
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export class SecretsManagerDouble {
  readonly region = DOUBLE_REGION;
  /** Operation names in the order received, for asserting what a tool did (or did not) call. */
  readonly calls: string[] = [];
  readonly rotations: RotationRun[] = [];
  private readonly secrets = new Map<string, Secret>();
  private readonly functions = new Map<string, RotationHandler>();
  private server?: Server;
  endpoint = '';

  static async start(): Promise<SecretsManagerDouble> {
    const double = new SecretsManagerDouble();
    await double.listen();
    return double;
  }

  private listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve) => {
      this.server!.listen(0, '127.0.0.1', () => {
        this.endpoint = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }

  /** The real SDK client, pointed at this stand-in with dummy credentials. */
  client(): SecretsManagerClient {
    return new SecretsManagerClient({
      endpoint: this.endpoint,
      region: this.region,
      credentials: { accessKeyId: 'AKIDLOCALSTANDIN', secretAccessKey: 'local-stand-in' },
    });
  }

  /** Environment for a child process that builds its own client (CLI tests). */
  clientEnv(): Record<string, string> {
    return {
      AWS_REGION: this.region,
      AWS_ACCESS_KEY_ID: 'AKIDLOCALSTANDIN',
      AWS_SECRET_ACCESS_KEY: 'local-stand-in',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  /** Makes `arn` invocable by RotateSecret, as a Lambda function would be. */
  registerRotationFunction(arn: string, handler: RotationHandler): void {
    this.functions.set(arn, handler);
  }

  /** Version id → staging labels, versions without labels left out (like DescribeSecret). */
  stages(secretId: string): Record<string, string[]> {
    return stageMap(this.find(secretId));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.rotations.map((r) => r.done));
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const requestId = randomUUID();
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method !== 'POST' || !target.startsWith('secretsmanager.')) {
        throw new AwsError('UnknownOperationException', 'Expected POST with X-Amz-Target: secretsmanager.<Operation>.');
      }
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      }
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        throw new AwsError('SerializationException', 'Request body is not valid JSON.');
      }
      const op = target.slice('secretsmanager.'.length);
      this.calls.push(op);
      reply(200, this.dispatch(op, input));
    } catch (error) {
      if (error instanceof AwsError) reply(error.status, { __type: error.type, message: error.message });
      else reply(500, { __type: 'InternalServiceError', message: 'Internal error in the local stand-in.' });
    }
  }

  private dispatch(op: string, input: Record<string, unknown>): unknown {
    switch (op) {
      case 'CreateSecret':
        return this.createSecret(input);
      case 'DescribeSecret':
        return this.describeSecret(input);
      case 'GetSecretValue':
        return this.getSecretValue(input);
      case 'PutSecretValue':
        return this.putSecretValue(input);
      case 'UpdateSecretVersionStage':
        return this.updateSecretVersionStage(input);
      case 'GetRandomPassword':
        return this.getRandomPassword(input);
      case 'RotateSecret':
        return this.rotateSecret(input);
      case 'ListSecretVersionIds':
        return this.listSecretVersionIds(input);
      default:
        throw new AwsError('UnknownOperationException', `The local stand-in does not implement ${op}.`);
    }
  }

  private find(secretId: unknown): Secret {
    if (typeof secretId !== 'string' || secretId.length === 0) {
      throw new AwsError('ValidationException', "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null");
    }
    for (const secret of this.secrets.values()) {
      // Name, full ARN, or partial ARN (the ARN without the random six-character suffix).
      if (secretId === secret.name || secretId === secret.arn || secretId === secret.arn.slice(0, -7)) return secret;
    }
    throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }

  private createSecret(input: Record<string, unknown>) {
    const name = requireString(input, 'Name');
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new AwsError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    }
    const token = optionalToken(input);
    const value = secretValue(input);
    const existing = [...this.secrets.values()].find((s) => s.name === name);
    if (existing) {
      // A retry with the same token and value succeeds; anything else is a conflict.
      const version = token ? existing.versions.get(token) : undefined;
      if (version && sameValue(version, value)) return { ARN: existing.arn, Name: existing.name, VersionId: version.id };
      throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const created = now();
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${this.region}:${DOUBLE_ACCOUNT}:secret:${name}-${randomSuffix()}`,
      name,
      description: optionalString(input, 'Description'),
      kmsKeyId: optionalString(input, 'KmsKeyId'),
      created,
      changed: created,
      rotationEnabled: false,
      tags: Array.isArray(input.Tags) ? (input.Tags as Secret['tags']) : [],
      versions: new Map(),
    };
    this.secrets.set(secret.arn, secret);
    if (value.secretString === undefined && value.secretBinary === undefined) return { ARN: secret.arn, Name: name };
    const id = token ?? randomUUID();
    secret.versions.set(id, { id, ...value, stages: new Set(), created });
    this.attach(secret, 'AWSCURRENT', id);
    return { ARN: secret.arn, Name: name, VersionId: id };
  }

  private describeSecret(input: Record<string, unknown>) {
    const s = this.find(input.SecretId);
    return {
      ARN: s.arn,
      Name: s.name,
      Description: s.description,
      KmsKeyId: s.kmsKeyId,
      RotationEnabled: s.rotationEnabled,
      RotationLambdaARN: s.rotationLambdaArn,
      RotationRules: s.rotationRules,
      LastRotatedDate: s.lastRotated,
      LastChangedDate: s.changed,
      CreatedDate: s.created,
      Tags: s.tags,
      VersionIdsToStages: stageMap(s),
    };
  }

  private version(s: Secret, input: Record<string, unknown>): Version {
    const versionId = optionalString(input, 'VersionId');
    const stage = optionalString(input, 'VersionStage');
    let version: Version | undefined;
    if (versionId) {
      version = s.versions.get(versionId);
      if (version && stage && !version.stages.has(stage)) version = undefined;
    } else {
      const label = stage ?? 'AWSCURRENT';
      version = [...s.versions.values()].find((v) => v.stages.has(label));
    }
    if (!version || (version.secretString === undefined && version.secretBinary === undefined)) {
      const what = versionId ? `VersionId: ${versionId}` : `staging label: ${stage ?? 'AWSCURRENT'}`;
      throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for ${what}`);
    }
    return version;
  }

  private getSecretValue(input: Record<string, unknown>) {
    const s = this.find(input.SecretId);
    const v = this.version(s, input);
    return {
      ARN: s.arn,
      Name: s.name,
      VersionId: v.id,
      SecretString: v.secretString,
      SecretBinary: v.secretBinary,
      VersionStages: [...v.stages],
      CreatedDate: v.created,
    };
  }

  private putSecretValue(input: Record<string, unknown>) {
    const s = this.find(input.SecretId);
    const token = optionalToken(input) ?? randomUUID();
    const value = secretValue(input);
    if (value.secretString === undefined && value.secretBinary === undefined) {
      throw new AwsError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
    }
    const stages = input.VersionStages === undefined ? ['AWSCURRENT'] : stringList(input, 'VersionStages');
    const existing = s.versions.get(token);
    if (existing && (existing.secretString !== undefined || existing.secretBinary !== undefined)) {
      // Versions are immutable: a retry with the same value is a no-op, a new value under an old token is refused.
      if (sameValue(existing, value)) return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: [...existing.stages] };
      throw new AwsError('ResourceExistsException', `A resource with the ID you requested already exists. (VersionId ${token} has a different value.)`);
    }
    const version: Version = existing ?? { id: token, stages: new Set(), created: now() };
    Object.assign(version, value);
    s.versions.set(token, version);
    for (const stage of stages) this.attach(s, stage, token);
    s.changed = now();
    return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: [...version.stages] };
  }

  private updateSecretVersionStage(input: Record<string, unknown>) {
    const s = this.find(input.SecretId);
    const stage = requireString(input, 'VersionStage');
    const moveTo = optionalString(input, 'MoveToVersionId');
    const removeFrom = optionalString(input, 'RemoveFromVersionId');
    const holder = [...s.versions.values()].find((v) => v.stages.has(stage));
    if (moveTo !== undefined && !s.versions.has(moveTo)) {
      throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret version: ${moveTo}`);
    }
    if (removeFrom !== undefined && holder?.id !== removeFrom) {
      throw new AwsError('InvalidParameterException', `The staging label ${stage} is not attached to version ${removeFrom}.`);
    }
    if (moveTo !== undefined) {
      if (holder && holder.id !== moveTo && removeFrom === undefined) {
        throw new AwsError(
          'InvalidParameterException',
          `The staging label ${stage} is currently attached to version ${holder.id}. You must include RemoveFromVersionId to move it.`,
        );
      }
      this.attach(s, stage, moveTo);
    } else if (removeFrom !== undefined) {
      if (stage === 'AWSCURRENT') {
        throw new AwsError('InvalidParameterException', 'You can only move AWSCURRENT to another version; it cannot be removed.');
      }
      holder!.stages.delete(stage);
    } else {
      throw new AwsError('InvalidParameterException', 'You must specify MoveToVersionId, RemoveFromVersionId, or both.');
    }
    s.changed = now();
    return { ARN: s.arn, Name: s.name };
  }

  /** Puts `stage` on version `id` only; moving AWSCURRENT hands AWSPREVIOUS to the old holder. */
  private attach(s: Secret, stage: string, id: string): void {
    const target = s.versions.get(id)!;
    const holder = [...s.versions.values()].find((v) => v.stages.has(stage));
    if (holder?.id === id) return;
    holder?.stages.delete(stage);
    target.stages.add(stage);
    if (stage === 'AWSCURRENT' && holder) {
      for (const v of s.versions.values()) v.stages.delete('AWSPREVIOUS');
      holder.stages.add('AWSPREVIOUS');
    }
  }

  private getRandomPassword(input: Record<string, unknown>) {
    const length = input.PasswordLength === undefined ? 32 : Number(input.PasswordLength);
    if (!Number.isInteger(length) || length < 1 || length > 4096) {
      throw new AwsError('InvalidParameterException', 'PasswordLength must be between 1 and 4096.');
    }
    const exclude = new Set(optionalString(input, 'ExcludeCharacters') ?? '');
    const groups = [
      input.ExcludeLowercase ? '' : 'abcdefghijklmnopqrstuvwxyz',
      input.ExcludeUppercase ? '' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
      input.ExcludeNumbers ? '' : '0123456789',
      input.ExcludePunctuation ? '' : PUNCTUATION,
      input.IncludeSpace ? ' ' : '',
    ]
      .map((g) => [...g].filter((c) => !exclude.has(c)).join(''))
      .filter((g) => g.length > 0);
    if (groups.length === 0) throw new AwsError('InvalidParameterException', 'No characters left to build a password from.');
    const requireEach = input.RequireEachIncludedType !== false;
    const all = groups.join('');
    for (;;) {
      const password = Array.from({ length }, () => all[randomInt(all.length)]).join('');
      if (!requireEach || length < groups.length || groups.every((g) => [...password].some((c) => g.includes(c)))) {
        return { RandomPassword: password };
      }
    }
  }

  private rotateSecret(input: Record<string, unknown>) {
    const s = this.find(input.SecretId);
    const lambdaArn = optionalString(input, 'RotationLambdaARN');
    if (lambdaArn !== undefined) {
      if (!this.functions.has(lambdaArn)) {
        throw new AwsError('AccessDeniedException', `Secrets Manager cannot invoke the specified Lambda function ${lambdaArn}.`);
      }
      s.rotationLambdaArn = lambdaArn;
    }
    if (input.RotationRules !== undefined) s.rotationRules = input.RotationRules as Record<string, unknown>;
    if (!s.rotationLambdaArn) {
      throw new AwsError('InvalidRequestException', 'No Lambda rotation function ARN is associated with this secret.');
    }
    const pending = [...s.versions.values()].find((v) => v.stages.has('AWSPENDING') && !v.stages.has('AWSCURRENT'));
    if (pending) {
      throw new AwsError('InvalidRequestException', "A previous rotation isn't complete. That rotation will be reattempted.");
    }
    s.rotationEnabled = true;
    if (input.RotateImmediately === false) return { ARN: s.arn, Name: s.name };

    const token = optionalToken(input) ?? randomUUID();
    if (s.versions.has(token)) return { ARN: s.arn, Name: s.name, VersionId: token };
    // The service creates the version as a value-less AWSPENDING stub; createSecret fills it in.
    s.versions.set(token, { id: token, stages: new Set(), created: now() });
    this.attach(s, 'AWSPENDING', token);
    const handler = this.functions.get(s.rotationLambdaArn)!;
    const run: RotationRun = { secretArn: s.arn, versionId: token, stepsCompleted: [], done: Promise.resolve() };
    run.done = (async () => {
      await new Promise((r) => setImmediate(r)); // answer RotateSecret first, as the service does
      try {
        for (const step of ROTATION_STEPS) {
          await handler({ Step: step, SecretId: s.arn, ClientRequestToken: token });
          run.stepsCompleted.push(step);
        }
        const v = s.versions.get(token);
        if (v?.stages.has('AWSCURRENT')) v.stages.delete('AWSPENDING');
        s.lastRotated = now();
      } catch (error) {
        run.error = error instanceof Error ? error.message : String(error);
      }
    })();
    this.rotations.push(run);
    return { ARN: s.arn, Name: s.name, VersionId: token };
  }

  private listSecretVersionIds(input: Record<string, unknown>) {
    const s = this.find(input.SecretId);
    const versions = [...s.versions.values()].filter((v) => input.IncludeDeprecated === true || v.stages.size > 0);
    return {
      ARN: s.arn,
      Name: s.name,
      Versions: versions.map((v) => ({ VersionId: v.id, VersionStages: [...v.stages], CreatedDate: v.created })),
    };
  }
}

function stageMap(s: Secret): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of s.versions.values()) if (v.stages.size > 0) out[v.id] = [...v.stages];
  return out;
}

function requireString(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new AwsError('ValidationException', `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  return input[key] === undefined || input[key] === null ? undefined : requireString(input, key);
}

function stringList(input: Record<string, unknown>, key: string): string[] {
  const value = input[key];
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new AwsError('ValidationException', `1 validation error detected: Value at '${key}' must be a non-empty list of strings`);
  }
  return value as string[];
}

function optionalToken(input: Record<string, unknown>): string | undefined {
  const token = optionalString(input, 'ClientRequestToken');
  if (token !== undefined && (token.length < 32 || token.length > 64)) {
    throw new AwsError('ValidationException', "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64");
  }
  return token;
}

function secretValue(input: Record<string, unknown>): { secretString?: string; secretBinary?: string } {
  const secretString = optionalString(input, 'SecretString');
  const secretBinary = optionalString(input, 'SecretBinary');
  if (secretString !== undefined && secretBinary !== undefined) {
    throw new AwsError('InvalidParameterException', 'You can provide SecretString or SecretBinary, not both.');
  }
  return { secretString, secretBinary };
}

function sameValue(v: Version, value: { secretString?: string; secretBinary?: string }): boolean {
  return v.secretString === value.secretString && v.secretBinary === value.secretBinary;
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}
