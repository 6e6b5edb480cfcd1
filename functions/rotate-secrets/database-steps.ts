// The database credentials' steps, with AWS's alternating-users strategy: each rotation gives a
// fresh password to the user the pods are not using and makes it current (README: "The four steps").
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { alternateUsername } from '../api/db/postgres-roles';
import { applyPendingCredentials, canLogIn, withConnection } from './database';
import { jsonLog, pendingVersionExists, putPendingVersion, randomPassword, readVersion, type KindSteps, type RotationOptions } from './protocol';
import { parseDatabaseSecret, sameServer, type DatabaseSecret } from './secret';

/** GetRandomPassword's default ExcludeCharacters for passwords: none of `` : / @ " ' \ ``, safe in URLs and shells. */
export const DEFAULT_EXCLUDE_CHARACTERS = ':/@"\'\\';

/** One version of a database secret, parsed, with its raw JSON (kept keys are written back as they were). */
async function readDatabaseSecret(client: SecretsManagerClient, secretId: string, stage: string, versionId?: string): Promise<DatabaseSecret & { raw: Record<string, unknown> }> {
  const { value, label } = await readVersion(client, secretId, stage, versionId);
  const secret = parseDatabaseSecret(value, label);
  return { ...secret, raw: JSON.parse(value!) as Record<string, unknown> };
}

/**
 * createSecret, setSecret and testSecret for the database credentials. Each is safe to run again:
 * it checks what is already done before doing it.
 */
export function databaseSteps(options: RotationOptions): KindSteps {
  const { client } = options;
  const log = options.log ?? jsonLog;
  const get = (secretId: string, stage: string, versionId?: string) => readDatabaseSecret(client, secretId, stage, versionId);

  return {
    /** Puts a new AWSPENDING version under `token`: the alternate user with a fresh random password. */
    async createSecret(secretId, token) {
      const current = await get(secretId, 'AWSCURRENT');
      if (await pendingVersionExists(() => get(secretId, 'AWSPENDING', token), log, secretId, token)) return;
      const password = await randomPassword(client, {
        PasswordLength: options.passwordLength ?? 32,
        ExcludeCharacters: options.excludeCharacters ?? DEFAULT_EXCLUDE_CHARACTERS,
      });
      const username = alternateUsername(current.username);
      await putPendingVersion(client, secretId, token, { ...current.raw, username, password });
      log('createSecret: put pending version', { secretId, versionId: token, username });
    },

    /** Makes the pending credentials valid in PostgreSQL, acting as the master user from `masterarn`. */
    async setSecret(secretId, token) {
      const current = await get(secretId, 'AWSCURRENT');
      const pending = await get(secretId, 'AWSPENDING', token);

      // Guards before anything else: only the current user's alternate, only on the same server.
      if (pending.username !== alternateUsername(current.username)) {
        throw new Error(`refusing to set user ${pending.username}: the pending user must be ${alternateUsername(current.username)}, the alternate of ${current.username}`);
      }
      if (!sameServer(current, pending) || current.dbname !== pending.dbname) {
        throw new Error(
          `refusing to set user ${pending.username} on ${pending.host}:${pending.port}/${pending.dbname}: the current secret points at ${current.host}:${current.port}/${current.dbname}`,
        );
      }
      if (await canLogIn(pending, options)) {
        log('setSecret: pending credentials already work', { secretId, versionId: token, username: pending.username });
        return;
      }
      // The current credentials must work too, so a forged secret cannot make us act on another server.
      if (!(await canLogIn(current, options))) {
        throw new Error(`cannot log in with the current credentials of ${current.username}; refusing to rotate`);
      }
      if (!current.masterarn) throw new Error('the current secret has no masterarn: cannot find the master credentials');
      const master = { ...(await get(current.masterarn, 'AWSCURRENT')), dbname: current.dbname };
      if (!sameServer(master, current)) {
        throw new Error(`the master secret points at ${master.host}:${master.port}, the app secret at ${current.host}:${current.port}`);
      }
      if (master.username === pending.username) throw new Error('refusing to rotate the master user through an app secret');
      const outcome = await applyPendingCredentials(master, pending, current.username, options);
      log(`setSecret: ${outcome} ${pending.username}`, { secretId, versionId: token, username: pending.username });
    },

    /** Logs in with the pending credentials and runs a query. */
    async testSecret(secretId, token) {
      const pending = await get(secretId, 'AWSPENDING', token);
      try {
        await withConnection(pending, options, (c) => c.query('SELECT now()'));
      } catch (error) {
        throw new Error(`testSecret: the pending credentials for ${pending.username} do not work: ${(error as Error).message}`);
      }
      log('testSecret: pending credentials work', { secretId, versionId: token, username: pending.username });
    },
  };
}
