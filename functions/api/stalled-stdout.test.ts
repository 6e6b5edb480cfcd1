import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureBundle, freePort, serverBundle } from '../../test/support/api';

/** One GET on a keep-alive agent-less connection; the status, or 0 when it fails. */
const get = (port: number, path: string) =>
  new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });

/**
 * Issue 17 §3: a log collector that stops reading must not keep a SIGTERMed API alive. Before,
 * the synchronous log write blocked the event loop once the pipe was full: requests stopped being
 * answered and the process never exited, whatever SHUTDOWN_TIMEOUT_MS said.
 */
describe('the bundle with a stdout nobody reads', () => {
  it('keeps answering, exits on SIGTERM with 0, and reports on stderr how many log lines it dropped', { timeout: 120_000 }, async () => {
    await ensureBundle();
    const port = await freePort();
    const child = spawn(process.execPath, [serverBundle], {
      env: { PATH: process.env.PATH ?? '', DB_DRIVER: 'pglite', PGLITE_DIR: 'memory://', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '3000', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Also after a timeout (today's code never exits): no process is left behind.
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    // stdout is never read: no listener, so the pipe fills and stays full.
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    while ((await get(port, '/readyz')) !== 200) {
      if (child.exitCode !== null) throw new Error(`exited early:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // 300 log lines of about 8 KiB each (the path is logged): 2.4 MB, far more than a pipe holds.
    const long = `/api/${'x'.repeat(8000)}`;
    for (let i = 0; i < 300; i++) expect(await get(port, long)).toBe(404);
    expect(await get(port, '/healthz')).toBe(200); // still serving with the pipe full

    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const report = stderr.split('\n').find((l) => l.includes('log lines dropped'));
    expect(report, stderr).toBeDefined();
    expect(JSON.parse(report!).dropped).toBeGreaterThan(0);
  });
});
