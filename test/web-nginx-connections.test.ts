import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadValues } from '../platform/values';
import { freePort } from './support/api';
import { buildWeb, startNginx, tempDir, type RunningNginx } from './support/nginx';

// A connection storm: 2,000 clients that each make a request and then hold their keep-alive
// connection idle, as browsers and API clients do. With worker_connections 1024 nginx closed the
// idle ones past its limit (1,088 of 2,000 lost); now it holds web.workerConnections from the values.
const CLIENTS = 2000;
const scratch = tempDir('tasks-nginx-conns-');
let nginx: RunningNginx;
let upstream: Server;
const sockets: Socket[] = [];

beforeAll(async () => {
  // The test holds 2,000 sockets itself: its own descriptor limit must allow them.
  const limit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  if (!(limit > CLIENTS + 500)) throw new Error(`this test needs \`ulimit -n\` above ${CLIENTS + 500}, it is ${limit}`);
  const dist = await buildWeb(join(scratch, 'dist'));
  const apiPort = await freePort();
  upstream = createServer((req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"success":true}'));
  await new Promise<void>((resolve) => upstream.listen(apiPort, '127.0.0.1', resolve));
  // WORKER_CONNECTIONS as the cluster renders it.
  const workerConnections = String(loadValues('prod').web.workerConnections);
  nginx = await startNginx({ htmlDir: dist, apiUpstream: `http://127.0.0.1:${apiPort}`, env: { WORKER_CONNECTIONS: workerConnections } });
});

afterAll(async () => {
  sockets.forEach((s) => s.destroy());
  await nginx?.stop();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

/** Sends one keep-alive request on `socket` and resolves with the status once the whole answer is in. */
function ask(socket: Socket, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN);
      if (buffer.length < end + 4 + length) return;
      done();
      resolve(Number(head.split(' ')[1]));
    };
    const onClose = () => {
      done();
      reject(new Error('closed by nginx before answering'));
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

const open = () =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect(nginx.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });

/** nginx's worker process (the master's child), for its memory. */
function workerRssKiB(): number {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (new RegExp(`^PPid:\\s+${nginx.pid}$`, 'm').test(status) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('nginx: worker')) {
        return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
      }
    } catch {
      // a process that ended while we looked
    }
  }
  throw new Error('no nginx worker found');
}

describe('nginx under a connection storm', () => {
  it(`keeps ${CLIENTS.toLocaleString('en')} idle keep-alive clients and answers every one again`, async () => {
    const before = workerRssKiB();
    // In batches, so the listen backlog is never the limit being tested.
    for (let i = 0; i < CLIENTS; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, open));
      sockets.push(...batch);
      expect(await Promise.all(batch.map((s) => ask(s, '/api/tasks')))).toEqual(batch.map(() => 200));
    }
    const after = workerRssKiB();
    // Every connection still open and answering: none was closed to make room for a later one. All at
    // once, half of them proxied: 1,000 requests in flight through the hop to the API.
    const second = await Promise.allSettled(sockets.map((s, i) => ask(s, i % 2 ? '/api/tasks' : '/healthz')));
    const lost = second.filter((r) => r.status === 'rejected').length;
    console.log(`${CLIENTS} idle clients: ${lost} lost; nginx worker RSS ${before} KiB before, ${after} KiB with them open`);
    expect(lost).toBe(0);
    expect(second.map((r) => (r.status === 'fulfilled' ? r.value : 0))).toEqual(sockets.map(() => 200));
    expect(nginx.errorLog()).not.toContain('worker_connections are not enough');
  });
});
