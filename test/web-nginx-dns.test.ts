import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/api';
import { buildWeb, startNginx, tempDir, type RunningNginx } from './support/nginx';

// nginx resolves API_UPSTREAM per request through the resolver the entrypoint found, as in the
// cluster (a Knative Service's name before its first revision is ready, or a new ClusterIP).
// A DNS stand-in on UDP whose answer the test changes while nginx runs.
const NAME = 'tasks-api.backend.svc.cluster.local';

/** Answers A queries for NAME with `address` (NXDOMAIN while it is undefined), TTL 1 s; counts queries. */
function dnsStandIn() {
  const socket: UdpSocket = createSocket('udp4');
  const state = { address: undefined as string | undefined, queries: 0 };
  socket.on('message', (msg, rinfo) => {
    const query = dnsPacket.decode(msg);
    const question = query.questions?.[0];
    if (!question) return;
    state.queries++;
    const known = question.name.toLowerCase() === NAME && state.address !== undefined;
    const answers = known && question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 1, data: state.address! }] : [];
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : dnsPacket.RECURSION_DESIRED) | (known ? 0 : 3), // rcode 3 = NXDOMAIN
      questions: query.questions,
      answers,
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  return {
    state,
    listen: () => new Promise<number>((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket.address().port))),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A stand-in API on `host`:port that says who it is and records the Host header it got. */
function api(host: string, port: number, name: string) {
  const hosts: string[] = [];
  const server: Server = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ success: true, server: name, url: req.url }));
  });
  return {
    hosts,
    listen: () => new Promise<void>((resolve) => server.listen(port, host, () => resolve())),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const scratch = tempDir('tasks-nginx-dns-');
const dns = dnsStandIn();
let nginx: RunningNginx;
let port: number;
let first: ReturnType<typeof api>;
let second: ReturnType<typeof api>;

beforeAll(async () => {
  const [dist, dnsPort] = await Promise.all([buildWeb(join(scratch, 'dist')), dns.listen()]);
  // Two loopback addresses stand for the old and the new ClusterIP, on the port API_UPSTREAM names.
  port = await freePort();
  first = api('127.0.0.1', port, 'first');
  second = api('127.0.0.2', port, 'second');
  await Promise.all([first.listen(), second.listen()]);
  // The name does not resolve yet: nginx must start anyway.
  nginx = await startNginx({ htmlDir: dist, apiUpstream: `http://${NAME}:${port}`, env: { RESOLVER: `127.0.0.1:${dnsPort}` } });
});

afterAll(async () => {
  await nginx?.stop();
  await Promise.all([first?.close(), second?.close(), dns.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('nginx resolving API_UPSTREAM at request time', () => {
  it('starts while the name does not resolve and answers the JSON 502 api_unavailable meanwhile', async () => {
    for (const path of ['/api/tasks', '/api/tasks/1']) {
      const res = await fetch(nginx.url + path, { method: path.endsWith('1') ? 'DELETE' : 'GET' });
      expect(res.status, path).toBe(502);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ success: false, message: 'The API is not available right now. Try again in a moment.', code: 'api_unavailable' });
    }
    expect(dns.state.queries).toBeGreaterThan(0);
    expect(nginx.errorLog()).toContain('could not be resolved');
    // The page itself is served all along.
    expect((await fetch(`${nginx.url}/`)).status).toBe(200);
  });

  it('reaches the API once the name resolves, passing the path unchanged and Host as the API name', async () => {
    dns.state.address = '127.0.0.1';
    await expect.poll(async () => (await fetch(`${nginx.url}/api/tasks`)).status, { timeout: 20_000, interval: 250 }).toBe(200);
    const res = await fetch(`${nginx.url}/api/tasks//x%20y/%41?cursor=a%2Fb&limit=5`);
    expect(await res.json()).toEqual({ success: true, server: 'first', url: '/api/tasks//x%20y/%41?cursor=a%2Fb&limit=5' });
    expect(first.hosts.at(-1)).toBe(`${NAME}:${port}`);
  });

  it('follows a new address without a restart or reload', async () => {
    const pid = nginx.pid;
    dns.state.address = '127.0.0.2';
    await expect
      .poll(async () => ((await (await fetch(`${nginx.url}/api/tasks`)).json()) as { server?: string }).server, { timeout: 20_000, interval: 250 })
      .toBe('second');
    expect(nginx.pid).toBe(pid);
    expect(second.hosts.at(-1)).toBe(`${NAME}:${port}`);
  });

  it('answers the JSON 502 again when the name stops resolving', async () => {
    dns.state.address = undefined;
    await expect.poll(async () => (await fetch(`${nginx.url}/api/tasks`)).status, { timeout: 20_000, interval: 250 }).toBe(502);
    expect((await (await fetch(`${nginx.url}/api/tasks`)).json()).code).toBe('api_unavailable');
  });
});
