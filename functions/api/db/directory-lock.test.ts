import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryLockedError, lockDirectory } from './directory-lock';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'tasks-lock-'));
  dirs.push(d);
  return join(d, 'pglite');
};

describe('lockDirectory', () => {
  it('refuses a directory held by a running process, naming the directory and the pid', () => {
    const dir = fresh();
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(`${dir}.lock`, JSON.stringify({ pid: holder.pid, host: hostname() }));
      let error: unknown;
      try {
        lockDirectory(dir);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DirectoryLockedError);
      expect((error as Error).message).toContain(dir);
      expect((error as Error).message).toContain(`process ${holder.pid}`);
      // The holder's lock is untouched.
      expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).pid).toBe(holder.pid);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over a stale lock left by a killed process, and releases its own', () => {
    const dir = fresh();
    const dead = spawnSync('true').pid; // exited: its pid is not running
    writeFileSync(`${dir}.lock`, JSON.stringify({ pid: dead, host: hostname() }));
    const release = lockDirectory(dir);
    expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8'))).toEqual({ pid: process.pid, host: hostname() });
    expect(lockDirectory(dir)).toBeTypeOf('function'); // the same process may open it again
    release();
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });
});
