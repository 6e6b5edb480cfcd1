import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { dirname, join } from 'node:path';
import { ConfigError } from './env';
import { fail } from './errors';
import type { Logger } from './logger';
import { volumeVersion, watchVolume } from './secret-volume';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The key beside INTERNAL_TOKEN_FILE that carries the token before the last rotation (AWSPREVIOUS). */
export const PREVIOUS_TOKEN_FILE = 'previous';

/**
 * At most this many comma-separated tokens per X-Internal-Token header: nginx sends the current
 * token and the previous one. A caller cannot try more guesses per request than that.
 */
export const MAX_PRESENTED_TOKENS = 2;

export interface InternalTokenCheck {
  /** True when any token in the header (a comma-separated list, at most 2) is an accepted one. */
  (presented: string | undefined): boolean;
  /** Stops following the files (tests; the process exit needs nothing). */
  close(): void;
}

/**
 * The shared token nginx adds as X-Internal-Token, from a mounted Secret.
 *
 * Accepted: the token in `file` (key `token`, the AWSCURRENT stage) and, when present and not empty,
 * the `previous` file beside it (the AWSPREVIOUS stage). Nothing is remembered across changes: a
 * process started at any moment accepts exactly the tokens its Secret holds, like every other one.
 * Both files are re-read when the kubelet swaps the volume (`..data`), on a poll every `pollMs` for
 * plain files, and on a mismatch (at most once a second) so a request arriving between the swap and
 * the watch event is not refused. nginx sends `current, previous` from its own copy of the Secret,
 * so web and API pods one rotation apart always share a token (secrets/README.md, the timing rule).
 *
 * Comparison: SHA-256 digests with timingSafeEqual. Throws at start-up when `file` is missing or
 * empty (the message names the file, never its content); a later unreadable state keeps the last
 * tokens read.
 */
export function internalTokenCheck(
  file: string,
  options: { pollMs?: number; onChange?: (tokens: number) => void } = {},
): InternalTokenCheck {
  const dir = dirname(file);
  let accepted = readTokens(file);
  let readAt = Date.now();
  const reread = () => {
    readAt = Date.now();
    try {
      const next = readTokens(file);
      const changed = next.length !== accepted.length || next.some((t, i) => !timingSafeEqual(t, accepted[i]!));
      accepted = next;
      if (changed) options.onChange?.(next.length);
    } catch {
      // mid-swap or removed: keep what was read last; the next event or poll tries again
    }
  };
  const stop = watchVolume(dir, () => volumeVersion(dir) ?? contentVersion(file), reread, options.pollMs);

  const matches = (presented: Buffer[]) => {
    let ok = false;
    for (const p of presented) for (const a of accepted) ok = timingSafeEqual(p, a) || ok;
    return ok;
  };
  const check = ((header: string | undefined) => {
    if (!header) return false;
    const presented = header
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t.length > 0);
    if (presented.length === 0 || presented.length > MAX_PRESENTED_TOKENS) return false;
    const digests = presented.map(digest);
    if (matches(digests)) return true;
    if (Date.now() - readAt < 1000) return false;
    reread();
    return matches(digests);
  }) as InternalTokenCheck;
  check.close = stop;
  return check;
}

/**
 * Digests of the current token and, when present, the previous one. On a kubelet volume both are
 * read from one `..data` version (the kubelet swaps all keys at once, a reader of two files can
 * still straddle the swap).
 */
function readTokens(file: string): Buffer[] {
  const dir = dirname(file);
  for (let attempt = 0; ; attempt++) {
    const before = volumeVersion(dir);
    const current = readToken(file, true)!;
    const previous = readToken(join(dir, PREVIOUS_TOKEN_FILE), false);
    if (volumeVersion(dir) === before || attempt >= 3) {
      return previous === undefined || previous === current ? [digest(current)] : [digest(current), digest(previous)];
    }
  }
}

function readToken(file: string, required: boolean): string | undefined {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch {
    if (!required) return undefined;
    throw new ConfigError(`INTERNAL_TOKEN_FILE: cannot read ${file}`);
  }
  if (!token && required) throw new ConfigError(`INTERNAL_TOKEN_FILE: ${file} is empty`);
  return token || undefined;
}

/** For plain files (no `..data`): changes whenever either file's content does. */
function contentVersion(file: string): string {
  const h = createHash('sha256');
  for (const f of [file, join(dirname(file), PREVIOUS_TOKEN_FILE)]) {
    try {
      h.update(readFileSync(f));
    } catch {
      h.update('\0missing');
    }
    h.update('\0');
  }
  return h.digest('hex');
}

/** The credentials of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * The guards of INTERNAL_TOKEN_FILE, over one check of the mounted `token` and `previous` files:
 * - `api`: every `/api` request needs a matching `X-Internal-Token` (nginx adds it); 401 otherwise.
 * - `metrics`: `/metrics` needs the same token, as `Authorization: Bearer <token>` (what a
 *   Prometheus Operator PodMonitor's `authorization` sends, from a Secret key) or as
 *   `X-Internal-Token`; 401 with `WWW-Authenticate: Bearer` otherwise (RFC 6750 §3). Without it
 *   anything that reaches the Knative route could read the metrics. The probes stay open: the
 *   kubelet and queue-proxy send no token.
 */
export function internalTokenGuards(file: string, log: Logger): { api: MiddlewareHandler; metrics: MiddlewareHandler } {
  const check = internalTokenCheck(file, { onChange: (count) => log.info({ acceptedTokens: count }, 'internal token files changed; accepting the new set') });
  return {
    api: async (c, next) => {
      if (!check(c.req.header('x-internal-token'))) {
        return fail(c, 401, 'unauthorized', 'This API only answers requests that come through the web front end');
      }
      await next();
    },
    metrics: async (c, next) => {
      const bearer = bearerToken(c.req.header('authorization'));
      // One token per scrape: a comma in the bearer credentials is not a second guess.
      const presented = bearer ?? c.req.header('x-internal-token');
      if (!check(presented)) {
        return fail(c, 401, 'unauthorized', 'Metrics need the internal token as Authorization: Bearer', { 'WWW-Authenticate': 'Bearer realm="metrics"' });
      }
      await next();
    },
  };
}
