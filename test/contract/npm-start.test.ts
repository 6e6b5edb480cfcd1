import { describeApiContract } from './api-contract';
import { npmStart } from '../support/hosts';

describeApiContract('npm start on PGlite, over HTTP', 'pglite', npmStart);
