import { describeApiContract } from '../../test/contract/api-contract';
import { inProcessHost } from '../../test/contract/in-process';
import { openNeonTestDb } from '../../test/support/neon-bridge';

// Neon's Pool over WebSocket, through a local WebSocket→TCP bridge to the machine's PostgreSQL.
describeApiContract('in-process on Neon over WebSocket', 'neon', inProcessHost('neon', () => openNeonTestDb()));
