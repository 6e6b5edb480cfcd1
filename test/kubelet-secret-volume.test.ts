import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeletSecretVolume } from './support/kubelet-secret-volume';

// The rotation tests trust this helper to behave like the kubelet; pin the layout it produces.
let volume: KubeletSecretVolume | undefined;
afterEach(() => volume?.remove());

describe('KubeletSecretVolume', () => {
  it('lays files out as symlinks through ..data into a timestamped directory', () => {
    volume = KubeletSecretVolume.create({ username: 'tasks_app', password: 'first' });
    const target = readlinkSync(join(volume.dir, '..data'));
    expect(target).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
    expect(readlinkSync(join(volume.dir, 'username'))).toBe('..data/username');
    expect(lstatSync(join(volume.dir, 'password')).isSymbolicLink()).toBe(true);
    expect(statSync(join(volume.dir, target, 'password')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(volume.dir, 'password'), 'utf8')).toBe('first');
    expect(readdirSync(volume.dir).sort()).toEqual(['..data', target, 'password', 'username'].sort());
  });

  it('swaps versions by renaming ..data and removes the old directory and dropped keys', () => {
    volume = KubeletSecretVolume.create({ username: 'tasks_app', password: 'first', stale: 'x' });
    const before = volume.current();
    volume.update({ username: 'tasks_app_clone', password: 'second' });
    const after = volume.current();
    expect(after).not.toBe(before);
    expect(readFileSync(join(volume.dir, 'username'), 'utf8')).toBe('tasks_app_clone');
    expect(readFileSync(join(volume.dir, 'password'), 'utf8')).toBe('second');
    expect(readdirSync(volume.dir).sort()).toEqual(['..data', after!, 'password', 'username'].sort());
  });
});
