// The Lambda's logic: one step per invocation, as Secrets Manager calls it; the version check of
// the contract first, then the steps of the secret's kind.
import { databaseSteps } from './database-steps';
import { checkVersion, jsonLog, readVersion, secretKind, STEPS, withFinish, type RotationEvent, type RotationOptions, type Step, type StepFn } from './protocol';
import { tokenSteps } from './token-steps';

/**
 * The four steps for this secret, chosen by the shape of its AWSCURRENT value: the database
 * credentials (alternating users) or the internal token (a new random token).
 */
export async function stepsFor(options: RotationOptions, secretId: string): Promise<Record<Step, StepFn>> {
  const { value, label } = await readVersion(options.client, secretId, 'AWSCURRENT');
  return withFinish(options, secretKind(value, label) === 'database' ? databaseSteps(options) : tokenSteps(options));
}

/** The Lambda entry point's logic: one step per invocation, as Secrets Manager calls it. */
export function createRotationHandler(options: RotationOptions): (event: RotationEvent) => Promise<void> {
  const log = options.log ?? jsonLog;
  return async (event) => {
    const { Step: step, SecretId: secretId, ClientRequestToken: token } = event ?? {};
    if (!STEPS.includes(step) || !secretId || !token) {
      throw new Error(`invalid rotation event: expected Step (one of ${STEPS.join(', ')}), SecretId and ClientRequestToken`);
    }
    if (!(await checkVersion(options.client, secretId, token, { requireRotationEnabled: true, allowNewVersion: false }))) {
      log(`${step}: version is already AWSCURRENT`, { secretId, versionId: token });
      return;
    }
    const steps = await stepsFor(options, secretId);
    await steps[step](secretId, token);
  };
}
