import type { Server } from 'node:http';

/**
 * Keeps answering a client that half-closes its connection after sending (a TCP FIN, as `nc -N`,
 * `curl` piping from a file or any `shutdown(SHUT_WR)` does).
 *
 * RFC 9112 §9.6: a half-close does not delimit a request, nor does it say the client no longer
 * wants the answer. Node's http.Server treats it as the end of the connection by default: on the
 * socket's 'end' it ends (and so closes) the socket at once, and a request still running, whose
 * write may commit, has its answer dropped (0 bytes). With `httpAllowHalfOpen` set, Node marks the
 * last response in flight as the connection's last one instead, writes every answer to a request
 * received whole, then closes.
 *
 * `httpAllowHalfOpen` is a property of http.Server that Node reads in `socketOnEnd`
 * (lib/_http_server.js) and sets to false in the constructor; it has been there since Node 0.x but
 * is not in the API docs. test/request-edges.test.ts sends such requests over raw sockets on every
 * host, so a Node that stopped reading it fails there.
 */
export function answerHalfClosedClients(server: Server): void {
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
}
