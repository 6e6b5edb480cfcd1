import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler } from './rotation';

// Lambda entry point. Region and credentials come from the Lambda environment; SECRETS_MANAGER_ENDPOINT
// points at a VPC interface endpoint when the function runs in a VPC without a NAT gateway.
const client = new SecretsManagerClient({ endpoint: process.env.SECRETS_MANAGER_ENDPOINT || undefined });

export const handler = createRotationHandler({
  client,
  excludeCharacters: process.env.EXCLUDE_CHARACTERS || undefined,
  passwordLength: process.env.PASSWORD_LENGTH ? Number(process.env.PASSWORD_LENGTH) : undefined,
});
