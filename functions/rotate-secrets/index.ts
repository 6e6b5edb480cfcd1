import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseConnectTo } from './database';
import { createRotationHandler } from './handler';

// Lambda entry point. Region and credentials come from the Lambda environment; SECRETS_MANAGER_ENDPOINT
// points at a VPC interface endpoint when the function runs in a VPC without a NAT gateway, and
// DB_CONNECT_TO (host:port) at the database when the secret's host is an in-cluster name.
const client = new SecretsManagerClient({ endpoint: process.env.SECRETS_MANAGER_ENDPOINT || undefined });

export const handler = createRotationHandler({
  client,
  connectTo: parseConnectTo(process.env.DB_CONNECT_TO),
  excludeCharacters: process.env.EXCLUDE_CHARACTERS || undefined,
  passwordLength: process.env.PASSWORD_LENGTH ? Number(process.env.PASSWORD_LENGTH) : undefined,
});
