import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { fail } from './errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The shared token nginx adds as X-Internal-Token. It lives in a mounted Secret, so it can
 * change under us: on a mismatch the file is re-read (at most once a second) before refusing.
 * nginx reads its copy only when it starts, so after a change the previous token stays valid
 * for `graceMs`: long enough to restart the web pods without a refused request.
 */
export function internalTokenCheck(file: string, graceMs = 60 * 60 * 1000): (presented: string | undefined) => boolean {
  let expected = read(file);
  let previous: { token: Buffer; until: number } | undefined;
  let readAt = Date.now();
  const same = (a: Buffer, b: Buffer) => timingSafeEqual(a, b);
  const matches = (p: Buffer) => same(p, expected) || (previous !== undefined && Date.now() < previous.until && same(p, previous.token));
  return (presented) => {
    if (!presented) return false;
    const p = digest(presented);
    if (matches(p)) return true;
    if (Date.now() - readAt < 1000) return false;
    const now = read(file);
    readAt = Date.now();
    if (!same(now, expected)) {
      previous = { token: expected, until: Date.now() + graceMs };
      expected = now;
    }
    return matches(p);
  };
}

function read(file: string): Buffer {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(`INTERNAL_TOKEN_FILE: cannot read ${file}`);
  }
  if (!token) throw new Error(`INTERNAL_TOKEN_FILE: ${file} is empty`);
  return digest(token);
}

/** Refuses (401 unauthorized) every request whose X-Internal-Token does not match the mounted token. */
export function requireInternalToken(file: string): MiddlewareHandler {
  const check = internalTokenCheck(file);
  return async (c, next) => {
    if (!check(c.req.header('x-internal-token'))) {
      return fail(c, 401, 'unauthorized', 'This API only answers requests that come through the web front end');
    }
    await next();
  };
}
