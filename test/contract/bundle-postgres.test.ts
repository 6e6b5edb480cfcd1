import { describeApiContract } from './api-contract';
import { bundleOnPostgres } from '../support/hosts';

describeApiContract('the bundle on PostgreSQL, over HTTP', 'pg', bundleOnPostgres);
