// Where a request carries its token: `Authorization: Bearer <token>`, or, for a WebSocket from a browser
// (which cannot set headers), a subprotocol `base64url.bearer.authorization.nokube.io.<base64url token>`
// as Kubernetes does (never a query parameter: URLs end up in logs and histories). A browser also needs
// a subprotocol the server selects: it offers WS_PROTOCOL beside the token, and the head selects that one,
// so the token is never echoed back.
import type { IncomingMessage } from 'node:http';

export const WS_PROTOCOL = 'nokube.v1';
export const TOKEN_PROTOCOL_PREFIX = 'base64url.bearer.authorization.nokube.io.';

export type Credential = { secret: string } | { none: true } | { malformed: string };

export function credentialOf(req: IncomingMessage): Credential {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer +(\S+) *$/i.exec(header);
    return m ? { secret: m[1]! } : { malformed: 'the Authorization header must be "Bearer <token>"' };
  }
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    const offered = protocols.split(',').map((p) => p.trim());
    const carrier = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
    if (carrier !== undefined) {
      const encoded = carrier.slice(TOKEN_PROTOCOL_PREFIX.length);
      if (!/^[A-Za-z0-9_-]+$/.test(encoded))
        return { malformed: 'the token subprotocol must carry the token in base64url' };
      return { secret: Buffer.from(encoded, 'base64url').toString('utf8') };
    }
  }
  return { none: true };
}

/** ws's handleProtocols: select WS_PROTOCOL when offered, never the token's. */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false;
}
