// `npm run rotate -- --local`: the four steps run from this process, which plays the part of the
// Secrets Manager service.
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { stepsFor } from './handler';
import { checkVersion, STEPS, versionsToStages, type RotationOptions, type Step } from './protocol';

export interface LocalRotationResult {
  versionId: string;
  resumed: boolean;
}

/**
 * Runs all four steps from this process, playing the part of the Secrets Manager service: for teams
 * that do not run the Lambda, and for tests. An unfinished rotation (AWSPENDING on a version that is
 * not AWSCURRENT) is resumed rather than started over, as the service would retry it.
 */
export async function rotateLocally(
  options: RotationOptions,
  secretId: string,
  onStep: (step: Step, versionId: string) => void = () => {},
): Promise<LocalRotationResult> {
  const { client } = options;
  const steps = await stepsFor(options, secretId);
  const stages = await versionsToStages(client, secretId);
  const unfinished = Object.keys(stages).find((id) => stages[id]!.includes('AWSPENDING') && !stages[id]!.includes('AWSCURRENT'));
  const token = unfinished ?? randomUUID();
  for (const step of STEPS) {
    const check = { requireRotationEnabled: false, allowNewVersion: step === 'createSecret' };
    if (await checkVersion(client, secretId, token, check)) await steps[step](secretId, token);
    onStep(step, token);
  }
  // The service drops AWSPENDING once the rotation has finished; so must we, or the next one is refused.
  const after = await versionsToStages(client, secretId);
  if (after[token]?.includes('AWSPENDING')) {
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }));
  }
  return { versionId: token, resumed: unfinished !== undefined };
}
