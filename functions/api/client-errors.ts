import { maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from './schemas';

/**
 * Answers for requests that never reach the app because Node's HTTP parser or server refuses
 * them first. Node's own answers carry no body (`HTTP/1.1 400 Bad Request`, 431, 408, 417);
 * these give the API's error shape `{"success": false, "message", "code"}` instead.
 *
 * An answer never takes the place of a request's own: it goes out only while nothing has been
 * written on the connection yet, or after every request received whole has been answered. The
 * connection is closed afterwards.
 */

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/** The message of a 400 `bad_request`: Node's parser and nginx refuse the request as not HTTP they read. */
export const NOT_HTTP = 'The request is not valid HTTP/1.1';

/** The messages nginx's own 501 and 505 carry on API paths (web/nginx/nginx.conf.template), the same here. */
export const TRANSFER_CODING_NOT_SUPPORTED = 'This transfer coding is not supported';
export const VERSION_NOT_SUPPORTED = 'Only HTTP/1.x is supported';

/** The major HTTP version a request packet's first line names (`GET / HTTP/3.1` → 3), if it names one. */
function requestMajorVersion(packet: Buffer | undefined): number | undefined {
  const line = packet?.subarray(0, Math.min(packet.length, maxHeaderSize)).toString('latin1').split('\r\n', 1)[0];
  const match = line && / HTTP\/(\d+)\.\d+$/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/** True when a packet's `Transfer-Encoding` names a coding other than chunked. */
function otherTransferCoding(packet: Buffer | undefined): boolean {
  const text = packet?.toString('latin1') ?? '';
  const head = text.slice(0, text.indexOf('\r\n\r\n') >>> 0);
  for (const match of head.matchAll(/\r\ntransfer-encoding:[ \t]*([^\r\n]*)/gi)) {
    if (match[1]!.split(',').some((coding) => coding.trim().toLowerCase() !== 'chunked')) return true;
  }
  return false;
}

/** A request line's start: a method token and a space (RFC 9112 §3). A header line has a colon first. */
const REQUEST_LINE = /(?:^|\r\n)([!#$%&'*+.^_`|~0-9A-Za-z-]+ [^\r\n]*)/g;

/**
 * True when the request line is what took the request head past the parser's limit
 * (http.maxHeaderSize counts the request line with the headers): it is at or past the limit alone,
 * or longer than the header lines after it together, so the URI is too long rather than the
 * headers (RFC 9110 §15.5.15): a line just under 16 KiB with a Host header, or one nginx let
 * through with the headers it adds. `packet` is the chunk the parser failed in, up to 64 KiB: it
 * holds the start of the request line of any request written at once, after whatever was pipelined
 * before it (a complete head under the limit there was read fine and is skipped). A request line
 * that trickles in small writes fails in a chunk that does not start it: that one cannot be told
 * from a long header and stays a 431.
 */
function requestLineTooLong(packet: Buffer | undefined): boolean {
  if (!packet || packet.length < maxHeaderSize) return false;
  const text = packet.toString('latin1');
  for (const match of text.matchAll(REQUEST_LINE)) {
    const line = match[1]!;
    if (line.length >= maxHeaderSize) return true;
    const start = match.index! + match[0].length;
    const end = text.indexOf('\r\n\r\n', start);
    if (end !== -1 && end + 4 - match.index! < maxHeaderSize) continue;
    // The header lines after it, as far as they arrived.
    if (line.length > (end === -1 ? text.length : end) - start) return true;
  }
  return false;
}

/**
 * What each parser or server error gets; codes from Node's llhttp (`HPE_*`) and `_http_server`.
 * Past the header limit: 414 when the request line is what is too long (RFC 9110 §15.5.15), as nginx
 * answers it, else 431 (RFC 6585 §5).
 */
function answerFor(code: string | undefined, packet?: Buffer): { status: number; code: ErrorCode; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      if (requestLineTooLong(packet)) return { status: 414, code: 'uri_too_long', message: 'The request URI is too long' };
      return { status: 431, code: 'header_too_large', message: 'The request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'payload_too_large', message: 'The chunk extensions are too large' };
    case 'HPE_INVALID_VERSION': {
      // Node's parser reads HTTP/1.x and 2.0; another major version is 505 (RFC 9110 §15.6.6), as nginx answers it.
      const major = requestMajorVersion(packet);
      if (major !== undefined && major !== 1) return { status: 505, code: 'http_version_not_supported', message: VERSION_NOT_SUPPORTED };
      return { status: 400, code: 'bad_request', message: NOT_HTTP };
    }
    case 'HPE_INVALID_TRANSFER_ENCODING':
      // A transfer coding the parser does not read (`Transfer-Encoding: gzip`): 501 (RFC 9112 §6.1), as
      // nginx answers it; chunked with a Content-Length too is a bad request (§6.3), as in nginx.
      if (otherTransferCoding(packet)) return { status: 501, code: 'not_implemented', message: TRANSFER_CODING_NOT_SUPPORTED };
      return { status: 400, code: 'bad_request', message: NOT_HTTP };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'The request was not received in time' };
    default:
      return { status: 400, code: 'bad_request', message: NOT_HTTP };
  }
}

/** The answer as bytes; a HEAD request gets the headers only (RFC 9110 §9.3.2), or its client reads the body as garbage. */
function rawResponse(status: number, code: ErrorCode, message: string, head: boolean): string {
  const body = JSON.stringify({ success: false, message, code });
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=UTF-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    (head ? '' : body)
  );
}

/** Responses on each connection that have not finished yet, in request order (pipelining). */
const inFlight = new WeakMap<Duplex, Set<ServerResponse>>();
/** Connections whose parser has failed: a failed parser reports every later chunk again. */
const refused = new WeakSet<Duplex>();

/** Handler for node:http's 'request' event: keeps `inFlight` for `clientError`. */
function trackResponse(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  let open = inFlight.get(socket);
  if (!open) inFlight.set(socket, (open = new Set()));
  open.add(res);
  res.once('close', () => open.delete(res));
}

/**
 * Handler for node:http's 'clientError' event (bad request line, bad header, header too large,
 * conflicting Content-Length/Transfer-Encoding, request timeout, bytes that are not a request):
 * writes the JSON answer straight to the socket, as Node's docs require (there is no request or
 * response object), then destroys the socket.
 *
 * Bytes after a request that was received whole (a body longer than its Content-Length, anything
 * after `Connection: close`) fail the parser too, while that request is already running. It gets
 * its own answer (RFC 9112 §9.3.2: responses in request order): the error answer waits until
 * every request received whole has been answered, then goes out as the answer to those bytes and
 * closes the connection. Bytes after `Connection: close` are dropped unanswered: the client said
 * it would send nothing more (RFC 9112 §9.6), and Node closes after the answer.
 */
export function clientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex & { bytesWritten?: number }): void {
  if (refused.has(socket)) return;
  refused.add(socket);
  // A reset or an already half-closed socket has nobody left to read an answer.
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const received = [...(inFlight.get(socket) ?? [])].filter((res) => res.req.complete);
  if (received.length > 0) {
    if (err.code === 'HPE_CLOSED_CONNECTION') return;
    let left = received.length;
    for (const res of received) res.once('close', () => --left === 0 && answer(err, socket));
    return;
  }
  // Node answers only while nothing has been written on the connection yet, and so does this:
  // otherwise an answer to an earlier request may still be on the wire.
  if ((socket.bytesWritten ?? 0) === 0) return answer(err, socket);
  socket.destroy();
}

/** Writes the JSON answer for a parser or server error, then closes the connection. */
function answer(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  if (!socket.writable || socket.writableEnded) return void socket.destroy();
  const a = answerFor(err.code, err.rawPacket);
  // The parser failed, so there is no request object: the method is the packet's first word.
  const head = err.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(rawResponse(a.status, a.code, a.message, head), () => socket.destroy());
}

function answerJson(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ success: false, message, code });
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(body),
    // The body was never asked for: close rather than read it to keep the connection.
    Connection: 'close',
  });
  res.end(body);
}

/** The message of a 400 for an HTTP/1.1 request without `Host`. */
export const HOST_REQUIRED = 'An HTTP/1.1 request must carry a Host header';

/**
 * What Node's parser lets through and nginx refuses, answered before the app as nginx answers it:
 * - a major version other than 1 (Node reads `HTTP/2.0` as a request): 505 `http_version_not_supported`;
 * - HTTP/1.1 without `Host`: 400 `bad_request` (RFC 9112 §3.2). Node's own check (`requireHostHeader`)
 *   answers a bare 400 with no body, so the server turns it off and this answers instead; HTTP/1.0
 *   without `Host` is served, as nginx serves it;
 * - a `Transfer-Encoding` other than `chunked` alone (`gzip, chunked`): 501 `not_implemented` (RFC 9112
 *   §6.1). The parser removes only the chunked coding; what is left would reach the app still coded.
 * Returns true when it answered; the request must then go no further.
 */
export function refuseBeforeTheApp(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.httpVersionMajor !== 1) {
    answerJson(res, 505, 'http_version_not_supported', VERSION_NOT_SUPPORTED);
    return true;
  }
  if (req.httpVersionMinor >= 1 && req.headers.host === undefined) {
    answerJson(res, 400, 'bad_request', HOST_REQUIRED);
    return true;
  }
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
    answerJson(res, 501, 'not_implemented', TRANSFER_CODING_NOT_SUPPORTED);
    return true;
  }
  return false;
}

/** The message of a 417 `expectation_failed`, the same from nginx (which cannot quote the header safely). */
export const EXPECTATION_FAILED = 'Only the expectation 100-continue is supported';

/** Handler for 'checkExpectation': an `Expect` other than 100-continue (RFC 9110 §10.1.1) is 417. */
export function expectationFailed(_req: IncomingMessage, res: ServerResponse): void {
  answerJson(res, 417, 'expectation_failed', EXPECTATION_FAILED);
}

/**
 * Handler factory for 'checkContinue' (`Expect: 100-continue`): a declared body over
 * `bodyLimitBytes` is refused with 413 before the client sends it; otherwise the client is told
 * to continue and the request goes to the app as usual (Node emits 'request' only when no
 * 'checkContinue' listener exists, so this does it).
 */
export function continueOrRefuse(server: Server, bodyLimitBytes: number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const length = Number(req.headers['content-length']);
    if (Number.isFinite(length) && length > bodyLimitBytes) {
      return answerJson(res, 413, 'payload_too_large', `The request body must be at most ${bodyLimitBytes} bytes`);
    }
    res.writeContinue();
    server.emit('request', req, res);
  };
}

/**
 * The JSON answers to what Node's parser refuses, with every request received whole answered
 * first (`clientError` above), and to an `Expect` other than 100-continue. For a server the API
 * does not own (Vite's, under `npm run dev`) as for its own.
 */
export function answerClientErrors(server: Server): void {
  server.on('request', trackResponse);
  server.on('clientError', clientError);
  server.on('checkExpectation', expectationFailed);
}

/** Attaches the handlers above to a node:http server. */
export function answerBelowTheApp(server: Server, { bodyLimitBytes }: { bodyLimitBytes: number }): void {
  answerClientErrors(server);
  server.on('checkContinue', continueOrRefuse(server, bodyLimitBytes));
}
