import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  type DescribeSecretResponse,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { secretKind, type SecretKind } from './protocol';

// A secret's versions and their staging labels as seen from outside a rotation: which version holds a
// label, whether a rotation is unfinished, whether it is too soon to rotate again, and following a
// rotation until its version is AWSCURRENT. Used by `npm run rotate`; the Lambda does not need it.

/** Version id → staging labels, as DescribeSecret returns them. */
export type VersionStages = Record<string, string[]>;

/** The version that holds `label` (AWSCURRENT, AWSPREVIOUS, AWSPENDING), if any. */
export function versionWith(stages: VersionStages | undefined, label: string): string | undefined {
  return Object.keys(stages ?? {}).find((id) => stages![id]!.includes(label));
}

/**
 * The version of a rotation that started and did not finish: it is AWSPENDING and not AWSCURRENT
 * (a finished rotation may leave AWSPENDING on the current version until the next one starts).
 */
export function unfinishedVersion(stages: VersionStages | undefined): string | undefined {
  return Object.keys(stages ?? {}).find((id) => stages![id]!.includes('AWSPENDING') && !stages![id]!.includes('AWSCURRENT'));
}

/**
 * The timing rule: a rotation changes the password of the pair that was current two rotations ago, so
 * pods must have moved to the newest pair first (ESO refresh 1m + kubelet sync ~1m + pool drain <= 2m,
 * with margin). See secrets/README.md.
 */
export const MIN_MINUTES_BETWEEN_ROTATIONS = 10;

/**
 * Minutes since the AWSCURRENT version was created, when there is an AWSPREVIOUS one (pods may still
 * hold it). Without a previous version nobody can be using the pair this rotation changes, and the
 * answer is undefined. `now` is epoch milliseconds.
 */
export async function minutesSinceLastChange(client: SecretsManagerClient, secretId: string, now = Date.now()): Promise<number | undefined> {
  const out = await client.send(new ListSecretVersionIdsCommand({ SecretId: secretId }));
  const versions = out.Versions ?? [];
  if (!versions.some((v) => v.VersionStages?.includes('AWSPREVIOUS'))) return undefined;
  const created = versions.find((v) => v.VersionStages?.includes('AWSCURRENT'))?.CreatedDate;
  return created ? (now - created.getTime()) / 60_000 : undefined;
}

/**
 * Why rotating `secretId` now would break pods still on the previous pair (its current version is less
 * than MIN_MINUTES_BETWEEN_ROTATIONS old), as a sentence without a final full stop; undefined when a
 * rotation is safe. `now` is epoch milliseconds.
 */
export async function tooSoonToRotate(client: SecretsManagerClient, secretId: string, now = Date.now()): Promise<string | undefined> {
  const age = await minutesSinceLastChange(client, secretId, now);
  if (age === undefined || age >= MIN_MINUTES_BETWEEN_ROTATIONS) return undefined;
  return (
    `the current version is only ${Math.floor(age)} min old; pods may still hold the previous pair, whose ` +
    `password this rotation would change. Wait ${MIN_MINUTES_BETWEEN_ROTATIONS} min between rotations`
  );
}

/** Which rotation the secret's AWSCURRENT value gets (see secretKind); `label` names it in errors. */
export async function currentKind(client: SecretsManagerClient, secretId: string, label: string): Promise<SecretKind> {
  const current = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
  return secretKind(current.SecretString, label);
}

/** Asks Secrets Manager to rotate now with the configured function; returns the new version's id. */
export async function startRotation(client: SecretsManagerClient, secretId: string): Promise<string> {
  const { VersionId } = await client.send(new RotateSecretCommand({ SecretId: secretId }));
  if (!VersionId) throw new Error('RotateSecret returned no version id');
  return VersionId;
}

/** What the new version's labels became: the rotation finished, is running, or something else. */
export type StageChange =
  | { state: 'current'; versionId: string; previous?: string }
  | { state: 'pending'; versionId: string }
  | { state: 'other'; versionId: string; labels: string[] };

/**
 * Polls DescribeSecret every `pollMs` and reports each change of `versionId`'s staging labels through
 * `report`, until the version is AWSCURRENT. Throws when it is not after `timeoutMs` (milliseconds),
 * naming the rotation function whose logs say why.
 */
export async function followRotation(
  client: SecretsManagerClient,
  secretId: string,
  versionId: string,
  options: { timeoutMs: number; pollMs: number; report: (change: StageChange) => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = ''; // a version with no labels yet is not reported
  for (;;) {
    const described: DescribeSecretResponse = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
    const labels = described.VersionIdsToStages?.[versionId] ?? [];
    const state = labels.join(',');
    if (state !== last) {
      last = state;
      if (labels.includes('AWSCURRENT')) options.report({ state: 'current', versionId, previous: versionWith(described.VersionIdsToStages, 'AWSPREVIOUS') });
      else if (labels.includes('AWSPENDING')) options.report({ state: 'pending', versionId });
      else options.report({ state: 'other', versionId, labels });
    }
    if (labels.includes('AWSCURRENT')) return;
    if (Date.now() > deadline) {
      throw new Error(
        `rotation has not finished after ${options.timeoutMs / 1000}s: AWSPENDING is on ${versionId}, AWSCURRENT unchanged. ` +
          `Secrets Manager retries it; check the rotation function's logs (${described.RotationLambdaARN ?? 'no function configured'}).`,
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs));
  }
}
