import type { MiddlewareHandler } from 'hono';
import { fail } from './errors';

/** `identity`, an empty value or none at all: the body is sent as it is meant. */
const IDENTITY = /^\s*(identity\s*)?(,\s*(identity\s*)?)*$/i;

/**
 * Request bodies on /api are taken without a content coding only: any other `Content-Encoding`
 * (gzip, br, deflate, anything unknown) gets `415 unsupported_media_type` with
 * `Accept-Encoding: identity`, which says which codings would have been accepted (RFC 9110
 * §15.5.16, §12.5.3), before the body is read; nothing is written.
 *
 * Refused rather than decoded: no client of the API compresses what it sends (browsers never
 * compress a request body; the page's are under 1 KiB), decoding would put a decompressor, and a
 * limit against decompression bombs, in front of every write for no caller, and refusing keeps
 * the 16 KiB body limit a check on the bytes received. Before this, a gzip body was read as text
 * (400 "not valid UTF-8") and plain JSON labelled gzip was stored as if unlabelled.
 */
export const identityBodies: MiddlewareHandler = async (c, next) => {
  const coding = c.req.header('content-encoding');
  if (coding !== undefined && !IDENTITY.test(coding)) {
    return fail(c, 415, 'unsupported_media_type', 'Send the body without a content coding: Content-Encoding must be absent or identity', {
      'Accept-Encoding': 'identity',
    });
  }
  await next();
};
