import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answerHalfClosedClients } from './half-close';

// A handler that answers a turn of the event loop later, as one that waits on a database does,
// and a client that ends its side right after the request (a FIN).
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function halfClosedExchange(setUp: (s: Server) => void): Promise<string> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end('answered'), 20));
  });
  setUp(server);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (d) => (got += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.end('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

describe('answerHalfClosedClients', () => {
  it('answers every request received whole after the client half-closed, then closes', async () => {
    const got = await halfClosedExchange(answerHalfClosedClients);
    expect(got.match(/HTTP\/1\.1 200 OK\r\n/g)).toHaveLength(2);
    expect(got.match(/answered/g)).toHaveLength(2);
  });

  it("is needed: Node's default ends the connection at the FIN, with no answer", async () => {
    expect(await halfClosedExchange(() => {})).toBe('');
  });
});
