import { describeApiContract, type StartHost } from '../contract/api-contract';
import { over } from '../support/hosts';
import { startApiImage } from '../support/images';
import { createTestDatabase } from '../support/postgres';

/** The API image, run as the prod manifests run it, on a fresh database of the machine's PostgreSQL. */
const apiImage: StartHost = async (env) => {
  const database = await createTestDatabase();
  const api = await startApiImage({ databaseUrl: database.url, env: { MIGRATE_ON_START: 'true', ...env } });
  return {
    // The image requires nginx's internal token, as in the cluster.
    request: (method, path, body, headers) => over(api.url)(method, path, body, { ...api.headers, ...headers }),
    async stop() {
      await api.stop();
      await database.drop();
    },
  };
};

describeApiContract('the API image, over HTTP', 'pg', apiImage);
