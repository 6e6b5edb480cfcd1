import { describe, expect, it } from 'vitest';
import { ToolError, ensureTools } from './buildah';

// What a new user sees from `npm run images` before anything is built.
describe('ensureTools', () => {
  const log = () => undefined;

  it('asks a non-root user for root, and names the packages to install first', async () => {
    const err = await ensureTools(log, { uid: 1000, has: (c) => c !== 'buildah' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toBe(
      'npm run images needs root: debootstrap and buildah (chroot isolation, mounting image layers) do. ' +
        'Install buildah (sudo apt-get update && sudo apt-get install -y buildah), then run it as root, e.g. sudo npm run images.',
    );
    await expect(ensureTools(log, { uid: 1000, has: () => true })).rejects.toThrow(/needs root.*Run it as root, e\.g\. sudo npm run images\.$/);
  });

  it('says what to install when there is no apt-get', async () => {
    await expect(ensureTools(log, { uid: 0, has: (c) => c === 'buildah' })).rejects.toThrow(
      'debootstrap not found and there is no apt-get to install them with. Install them with your package manager (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y debootstrap) and run again.',
    );
  });

  it('does nothing as root when both tools are there', async () => {
    const lines: string[] = [];
    await ensureTools((l) => lines.push(l), { uid: 0, has: () => true });
    expect(lines).toEqual([]);
  });
});
