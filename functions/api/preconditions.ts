import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { entityTag, parseIfMatch, type IfMatch } from './entity-tag';
import { fail } from './errors';
import { answerVersion, type VersionCondition } from './tasks';

const PRECONDITION_FAILED = 'This task was changed since the version in If-Match; nothing was written. The task as it is now is in "task", its version in the ETag header';

/**
 * Route middleware for PUT, PATCH and DELETE: reads `If-Match` (RFC 9110 §13.1.1) before anything
 * is written or an Idempotency-Key is claimed. A malformed value is 400 `invalid_if_match`
 * (never stored under a key: the corrected request may reuse it); a valid one is kept for the
 * route's write (`versionCondition`).
 */
export const ifMatch: MiddlewareHandler = async (c, next) => {
  const raw = c.req.header('if-match');
  if (raw !== undefined) {
    const parsed = parseIfMatch(raw);
    if (!parsed) {
      return fail(c, 400, 'invalid_if_match', 'If-Match must be * or a comma-separated list of entity-tags, for example "3" (the task\'s ETag)');
    }
    c.set('ifMatch', parsed);
  }
  await next();
};

/** The write's condition from If-Match: none without the header or with `*` (the write runs when the task exists). */
export function versionCondition(c: Context): VersionCondition | undefined {
  const condition = c.get('ifMatch');
  return condition && !condition.any ? { versions: condition.versions, message: PRECONDITION_FAILED } : undefined;
}

/** The statuses whose body is about one task and carry its ETag: created, changed, precondition failed. */
const TAGGED = new Set([200, 201, 412]);

/** A write's answer as sent, with the ETag of the task its body carries (none for a delete's 200 or a 404). */
export function answerWithETag(c: Context, status: number, body: string, headers: Record<string, string>): Response {
  const version = TAGGED.has(status) ? answerVersion(body) : undefined;
  return c.body(body, status as ContentfulStatusCode, version === undefined ? headers : { ...headers, ETag: entityTag(version) });
}

/**
 * The same for an answer the keyed writer made (idempotency.ts), a fresh one or a replay: its body
 * is the stored one, read back here to tag it.
 */
export async function withETag(c: Context, res: Response): Promise<Response> {
  if (!TAGGED.has(res.status)) return res;
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => (headers[name] = value));
  return answerWithETag(c, res.status, await res.text(), headers);
}

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's parsed If-Match, when it sent one (ifMatch). */
    ifMatch: IfMatch | undefined;
  }
}
