import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { NOT_HTTP } from './client-errors';
import { fail } from './errors';

/**
 * Request headers that must come as one header line. nginx, in front of the API in the web image,
 * takes these as sent once (ngx_http_request.c, `ngx_http_process_unique_header_line`: "client sent
 * duplicate header line") and answers two lines of one with its 400 `bad_request`. RFC 9110 §5.3
 * lets a recipient combine list-valued lines instead, as Node does; refusing them here too gives one
 * request one answer on every host.
 */
export const ONE_LINE_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'authorization', 'content-range'];

const ONCE = new Set(ONE_LINE_HEADERS);

/**
 * Answers 400 `bad_request` (nginx's answer, byte for byte in the body) when one of ONE_LINE_HEADERS
 * came as more than one line. Reads Node's `rawHeaders` (name, value, …), which @hono/node-server and
 * @hono/vite-dev-server pass as `c.env.incoming`; a host without it (a Fetch Request only) cannot
 * receive two lines apart.
 */
export const oneLineHeaders: MiddlewareHandler = async (c, next) => {
  const raw = (c.env as { incoming?: Pick<IncomingMessage, 'rawHeaders'> } | undefined)?.incoming?.rawHeaders;
  if (raw) {
    const seen = new Set<string>();
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (!ONCE.has(name)) continue;
      if (seen.has(name)) return fail(c, 400, 'bad_request', NOT_HTTP);
      seen.add(name);
    }
  }
  await next();
};
