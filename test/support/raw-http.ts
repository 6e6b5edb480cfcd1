import { connect } from 'node:net';

export interface RawResponse {
  /** 0 when the answer had no status line (nothing came back, or an HTTP/0.9-style bare body). */
  status: number;
  /** Lower-case names; the last value of a repeated header. */
  headers: Record<string, string>;
  body: Buffer;
  /** Every byte received, for messages. */
  raw: Buffer;
}

/**
 * Sends `request` (bytes exactly as given) on a fresh TCP connection and reads until the server
 * closes it or `timeoutMs` passes (then whatever arrived). Interim 1xx answers are skipped; a chunked
 * body is decoded. For requests node:http would refuse to send: bad request lines, oversized or
 * malformed headers, bodies that disagree with their Content-Length.
 *
 * `halfClose`: end the sending side right after the request (a TCP FIN, as `nc -N` or
 * `shutdown(SHUT_WR)` does) and keep reading: the client has said all it will say, not that it
 * stopped listening (RFC 9112 §9.6).
 */
export function rawRequest(port: number, request: Buffer | string, timeoutMs = 10_000, { halfClose = false } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A server that refuses mid-request may reset the connection; what it sent before still counts.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    if (halfClose) socket.end(request);
    else socket.write(request);
  });
}

/** Splits one HTTP/1.x answer (after any 1xx) into status, headers and decoded body. */
export function parseResponse(raw: Buffer): RawResponse {
  let rest = raw;
  for (;;) {
    if (!rest.subarray(0, 5).equals(Buffer.from('HTTP/'))) return { status: 0, headers: {}, body: rest, raw };
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { status: 0, headers: {}, body: rest, raw };
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = body;
      continue;
    }
    return { status, headers, body: /chunked/i.test(headers['transfer-encoding'] ?? '') ? dechunk(body) : body, raw };
  }
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}
