import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeletSecretVolume } from '../../test/support/kubelet-secret-volume';
import { internalTokenCheck, type InternalTokenCheck } from './internal-token';

const A = 'tokenAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'tokenBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const C = 'tokenCccccccccccccccccccccccccccccccc';
const NEVER = 'neverIssuedxxxxxxxxxxxxxxxxxxxxxxxx';

const checks: InternalTokenCheck[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of checks.splice(0)) c.close();
  for (const c of cleanups.splice(0)) c();
});

function track(check: InternalTokenCheck): InternalTokenCheck {
  checks.push(check);
  return check;
}

function volume(payload: Record<string, string>): KubeletSecretVolume {
  const v = KubeletSecretVolume.create(payload);
  cleanups.push(() => v.remove());
  return v;
}

async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('internalTokenCheck', () => {
  it('accepts the lone token file and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), `${A}\n`);
    const check = track(internalTokenCheck(join(dir, 'token')));
    expect(check(A)).toBe(true);
    for (const bad of [undefined, '', ' ', ',', B, NEVER, `${A}x`, A.slice(1)]) expect(check(bad)).toBe(false);
  });

  it('accepts the previous token beside it, and a list of at most two tokens', () => {
    const v = volume({ token: B, previous: A });
    const check = track(internalTokenCheck(join(v.dir, 'token')));
    expect(check(B)).toBe(true);
    expect(check(A)).toBe(true);
    expect(check(`${B}, ${A}`)).toBe(true);
    expect(check(`${NEVER}, ${A}`)).toBe(true);
    expect(check(`${NEVER}, ${C}`)).toBe(false);
    // A caller cannot try more than two guesses per request.
    expect(check(`${NEVER}, ${C}, ${B}`)).toBe(false);
    expect(check(C)).toBe(false);
  });

  it('follows kubelet volume swaps: exactly the tokens of the current Secret, nothing kept in memory', async () => {
    const v = volume({ token: A });
    const check = track(internalTokenCheck(join(v.dir, 'token'), { pollMs: 200 }));
    expect(check(A)).toBe(true);

    v.update({ token: B, previous: A });
    await eventually(() => check(B));
    expect(check(A)).toBe(true);

    v.update({ token: C, previous: B });
    await eventually(() => !check(A));
    expect(check(C)).toBe(true);
    expect(check(B)).toBe(true);
    expect(check(NEVER)).toBe(false);

    // A process started now accepts the same set as the one that has run all along.
    const fresh = track(internalTokenCheck(join(v.dir, 'token')));
    for (const t of [A, B, C, NEVER]) expect(fresh(t)).toBe(check(t));

    // `previous` dropped from the Secret: the old token stops working at once, in every process.
    v.update({ token: C });
    await eventually(() => !check(B));
    expect(check(C)).toBe(true);
  });

  it('refuses to start without a readable, non-empty token file, naming the file only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(() => internalTokenCheck(join(dir, 'token'))).toThrow(`INTERNAL_TOKEN_FILE: cannot read ${join(dir, 'token')}`);
    writeFileSync(join(dir, 'token'), ' \n');
    writeFileSync(join(dir, 'previous'), A);
    expect(() => internalTokenCheck(join(dir, 'token'))).toThrow(`INTERNAL_TOKEN_FILE: ${join(dir, 'token')} is empty`);
  });

  it('ignores an empty previous file', () => {
    const v = volume({ token: B, previous: '' });
    const check = track(internalTokenCheck(join(v.dir, 'token')));
    expect(check(B)).toBe(true);
    expect(check('')).toBe(false);
    expect(check(`${B},`)).toBe(true);
  });
});
