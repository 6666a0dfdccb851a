// The client certificate of a request, when it came over TLS with one the cluster CA signed (the TLS front,
// agent/tls/front.ts, cuts off any other before HTTP). Read from the handshake Node already verified:
// CN the name, every O= a group (a policy name), the serial to tell certificates of one name apart.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { normalSerial } from '../../acl/store.ts';

export interface ClientCertificate {
  /** The subject's CN ('' when it has none). */
  name: string;
  /** The subject's O= values, in order. */
  groups: string[];
  /** The serial number, upper-case hex without leading zeros (head/acl/store.ts normalSerial). */
  serial: string;
  /** When it ends (ms since the epoch): checked at the handshake, and again on each request of a
   * kept-alive connection or an open stream, which may outlive it. */
  notAfter: number;
}

/** Node gives a field that appears once as a string, several times as an array. */
const values = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

export function clientCertificateOf(req: IncomingMessage): ClientCertificate | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  // Not TLS (a head without `tls`), or no certificate sent, or one that did not verify.
  if (!socket.encrypted || !socket.authorized || !socket.getPeerCertificate) return undefined;
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0 || !peer.subject) return undefined;
  const subject = peer.subject as unknown as Record<string, string | string[] | undefined>;
  return {
    name: values(subject.CN)[0] ?? '',
    groups: values(subject.O),
    serial: normalSerial(peer.serialNumber) ?? peer.serialNumber,
    notAfter: Date.parse(peer.valid_to),
  };
}
