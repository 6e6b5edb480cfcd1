import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, tempDir, type RunningNginx } from './support/nginx';

/*
 * nginx reloads whenever the mounted internal token changes (token-watch.sh). A graceful reload
 * closes the old workers' idle keep-alive connections, including the ones nginx's own upstream
 * pools hold to its inner hop; a write that is never tried twice must not go out on one of those.
 */

const RELOADS = 25;
const CLIENTS = 8;
const scratch = tempDir('tasks-nginx-reload-');
let upstream: Server;
let upstreamUrl: string;
let nginx: RunningNginx;

beforeAll(async () => {
  const html = join(scratch, 'html');
  mkdirSync(html);
  writeFileSync(join(html, 'index.html'), '<!doctype html><title>tasks</title>');
  // A stand-in for the API behind the gateway: reads the body, answers at once.
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end('{"success":true}'));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  nginx = await startNginx({ htmlDir: html, apiUpstream: upstreamUrl });
}, 60_000);

afterAll(async () => {
  await nginx?.stop();
  await new Promise<void>((resolve) => (upstream?.closeAllConnections(), upstream?.close(() => resolve())));
  rmSync(scratch, { recursive: true, force: true });
});

/** One request on a connection of its own, so only nginx's side of the hop can reuse a connection. */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${nginx.url}${path}`, { method, agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('nginx reloaded under load', () => {
  it(`answers every write through ${RELOADS} graceful reloads: unkeyed ones are never sent on a connection a reload closes`, async () => {
    const outcomes = new Map<string, number>();
    let running = true;
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        const keyed = i % 2 === 0;
        const headers: Record<string, string> = keyed ? { 'idempotency-key': `"reload-${n}-${i}"` } : {};
        const status = await send('POST', '/api/tasks', headers, '{"task":"reload"}').catch((e: Error) => e.message);
        const key = `${keyed ? 'keyed' : 'unkeyed'} ${status}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    for (let r = 0; r < RELOADS; r++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      process.kill(nginx.pid, 'SIGHUP');
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await load;
    const summary = Object.fromEntries(outcomes);
    console.log(`nginx reloads: ${RELOADS}, outcomes ${JSON.stringify(summary)}`);
    const failed = [...outcomes].filter(([k]) => !/ 201$/.test(k));
    expect(failed, nginx.errorLog().split('\n').filter((l) => /\[error\]/.test(l)).slice(0, 5).join('\n')).toEqual([]);
    expect(outcomes.get('unkeyed 201') ?? 0).toBeGreaterThan(RELOADS);
    expect(outcomes.get('keyed 201') ?? 0).toBeGreaterThan(RELOADS);
    expect(() => process.kill(nginx.pid, 0)).not.toThrow();
  }, 60_000);
});
