import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections accepted since start (each is one connection attempt by the client). */
  readonly accepted: number;
  readonly isDown: boolean;
  /** An outage: open connections are cut and new ones are accepted and closed at once. */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

/**
 * A TCP forwarder in front of a database, to inject outages whose connection attempts can be
 * counted (a closed port refuses them in the kernel, where nothing can count them). During an
 * outage a client sees what a restarting server gives it: the connection closes before the
 * start-up handshake completes.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  let isDown = false;
  const server: Server = createServer((client) => {
    accepted++;
    if (isDown) return void client.destroy();
    const upstream = connect(target.port, target.host);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get accepted() {
      return accepted;
    },
    get isDown() {
      return isDown;
    },
    down() {
      isDown = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    up() {
      isDown = false;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
