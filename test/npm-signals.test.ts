// A SIGTERM sent to the `npm` process of a long-running command (a process manager, a CI job's
// timeout, `kill <pid>`) stops everything it started. npm forwards the signal to its child only,
// so a script run through `sh -c` without `exec` left the real process, and the nginx it runs,
// behind, adopted by pid 1 and still holding the port.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './support/api';
import { waitFor200 } from './support/hosts';

const root = fileURLToPath(new URL('..', import.meta.url));
const started: number[] = [];
const logs = mkdtempSync(join(tmpdir(), 'npm-signals-'));

/** The pids below `pid` (children, their children, …), read from /proc. */
function descendants(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(path)) return [];
  const children = readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.flatMap((c) => [c, ...descendants(c)]);
}

/** A process that still runs: present in /proc and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

function npmRun(script: string, env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: root,
    env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', NODE_NO_WARNINGS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

afterEach(() => {
  for (const pid of started.splice(0)) if (running(pid)) process.kill(pid, 'SIGKILL');
});

describe('SIGTERM to npm stops the whole command', () => {
  const cases: [string, (port: number, apiPort: number) => Record<string, string>][] = [
    ['start', (port) => ({ PORT: String(port), PGLITE_DIR: 'memory://' })],
    ['dev', (port) => ({ PORT: String(port), PGLITE_DIR: 'memory://' })],
    // nginx opens /dev/stderr and /dev/stdout by path, which fails on the socket a spawned process gets as stdio.
    ['preview:nginx', (port, apiPort) => ({ PORT: String(port), API_UPSTREAM: `http://127.0.0.1:${apiPort}`, ERROR_LOG: join(logs, 'error.log'), ACCESS_LOG: join(logs, 'access.log') })],
  ];

  it.each(cases)('npm run %s', async (script, env) => {
    const [port, apiPort] = [await freePort(), await freePort()];
    const { child, output } = npmRun(script, env(port, apiPort));
    started.push(child.pid!);
    // `/` answers 200 once each of them serves the page (and, for start and dev, the API is ready).
    await waitFor200(`http://127.0.0.1:${port}/${script === 'preview:nginx' ? '' : 'readyz'}`, child, output);
    const below = descendants(child.pid!);
    started.push(...below);
    expect(below.length).toBeGreaterThan(0);

    child.kill('SIGTERM');
    const stopped = await until(() => below.every((pid) => !running(pid)), 30_000);
    expect(stopped, `still running after SIGTERM to npm: ${below.filter(running).join(', ')}\n${output()}`).toBe(true);
    const closed = await fetch(`http://127.0.0.1:${port}/`).then(() => false, () => true);
    expect(closed).toBe(true);
  });
});
