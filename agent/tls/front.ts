// An HTTPS server of this node (config `tls`): the head API, and every agent's own /metrics and /healthz.
// The node's certificate and key serve it; for the head API client certificates are asked for
// (optional) and, when given, must chain to the cluster CA (another CA's is cut off right after the
// handshake, before any HTTP; a verified one is an ACL subject: head/api/auth/client-certificate.ts).
// One port: a plain HTTP request on it gets a 400 saying so, as nginx answers, instead of a TLS alert the
// client cannot read.
import { readFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NodeTlsFiles } from './layout.ts';

/** The first byte of a TLS record carrying a handshake (ClientHello). */
const TLS_HANDSHAKE = 0x16;

/** The answer to plain HTTP on a TLS port of `who` (`head`, `agent`). */
function plainHttpAnswer(who: string): string {
  const body = `this ${who} speaks HTTPS: use https:// and the cluster CA\n`;
  return `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export interface TlsFront {
  /** Listens on the head port and hands TLS connections to `app`. */
  front: NetServer;
  /** The HTTPS server: requests and upgrades arrive on it. */
  app: HttpsServer;
  /** Stop listening and cut every connection (a client that never sent a byte too). */
  close(): Promise<void>;
}

export interface TlsFrontOptions {
  /** Who serves, for the plain-HTTP answer: `head`, `agent`. */
  who: string;
  /** Ask clients for a certificate (the head API: it is an ACL subject); the agent's anonymous routes
   * need none. */
  clientCertificates: boolean;
}

export async function tlsFront(
  files: NodeTlsFiles,
  onRequest: RequestListener,
  opts: TlsFrontOptions,
): Promise<TlsFront> {
  const [ca, cert, key] = await Promise.all([files.ca, files.cert, files.key].map((f) => readFile(f)));
  const app = createHttpsServer(
    // rejectUnauthorized false: a client without a certificate (the CLI with a token) is let through;
    // one with a certificate that does not chain to `ca` is cut off below.
    {
      ca,
      cert,
      key,
      requestCert: opts.clientCertificates,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    onRequest,
  );
  const plainHttp = plainHttpAnswer(opts.who);
  app.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    if (!socket.authorized && peer && Object.keys(peer).length > 0) socket.destroy();
  });
  // A failed handshake (a bad client, a scanner) is the client's problem: no log line per connection.
  app.on('tlsClientError', (_err, socket) => socket.destroy());
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // A connection that never sends its first byte is not kept (as http's headersTimeout would).
    socket.setTimeout(app.headersTimeout, () => socket.destroy());
    socket.once('data', (first) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) app.emit('connection', socket);
      else socket.end(plainHttp);
    });
  });
  return {
    front,
    app,
    close: () =>
      new Promise<void>((resolve) => {
        front.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
