import { runHost } from './host';

// Production entry (dist/api/server.mjs, the image): the API alone, on the one start-up and shutdown path.
runHost();
