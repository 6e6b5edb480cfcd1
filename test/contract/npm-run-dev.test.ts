import { describeApiContract } from './api-contract';
import { npmRunDev } from '../support/hosts';

describeApiContract('npm run dev on PGlite, over HTTP', 'pglite', npmRunDev);
