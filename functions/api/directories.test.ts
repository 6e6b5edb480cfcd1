import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDirectories, DirectoryError } from './directories';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'tasks-directories-'));
  dirs.push(d);
  return d;
};

function refusal(path: string): DirectoryError {
  try {
    createDirectories(path);
  } catch (err) {
    expect(err).toBeInstanceOf(DirectoryError);
    return err as DirectoryError;
  }
  throw new Error(`createDirectories(${path}) did not throw`);
}

describe('createDirectories', () => {
  it('makes each missing level and says which it made; an existing path makes none', () => {
    const d = scratch();
    expect(createDirectories(join(d, 'a', 'b', 'c'), 0o700)).toEqual([join(d, 'a'), join(d, 'a', 'b'), join(d, 'a', 'b', 'c')]);
    expect(statSync(join(d, 'a', 'b', 'c')).mode & 0o777).toBe(0o700);
    expect(createDirectories(join(d, 'a', 'b'))).toEqual([]);
  });

  it('fails at once under /proc, which Node’s recursive mkdir loops on', () => {
    const err = refusal('/proc/x/y');
    expect(err.code).toBe('ENOENT');
    expect(err.impossible).toBe(true);
    expect(err.message).toBe('cannot create the directory /proc/x/y: /proc cannot hold directories (ENOENT)');
  });

  it('names a file in the way and a dangling link, and leaves nothing it made', () => {
    const d = scratch();
    writeFileSync(join(d, 'file'), '');
    const file = refusal(join(d, 'file', 'x', 'y'));
    expect([file.code, file.impossible, file.message]).toEqual(['ENOTDIR', true, `cannot create the directory ${join(d, 'file', 'x', 'y')}: ${join(d, 'file')} is not a directory (ENOTDIR)`]);
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling'));
    const link = refusal(join(d, 'dangling', 'x'));
    expect([link.code, link.impossible]).toEqual(['EEXIST', true]);
    expect(link.message).toContain(`${join(d, 'dangling')} exists and is not a directory`);
  });
});
