// How the CLI trusts an HTTPS head: against the cluster CA its context names (config `tls`; saved by
// new-or-update and up, or NOKUBE_CA), never against the system's CAs alone; and the client certificate
// it presents (context clientCert/clientKey, tls.dir/cli.pem; or NOKUBE_CLIENT_CERT/KEY), which with ACL on
// stands for it when no token is sent. Without either, requests go through Node's own fetch (and the
// system's CAs); undici is loaded only when one is given.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../agent/errors.ts';

export interface HeadTls {
  /** The CA's PEM, when the context names one. */
  ca?: Buffer;
  /** The client certificate and key PEM, when the context names them (WebSockets present them too). */
  cert?: Buffer;
  key?: Buffer;
  fetch: typeof fetch;
  /** One line for a failed connection: a certificate the CLI does not trust is said so, with the fix. */
  explain(err: unknown): string;
}

/** The client certificate's files (context clientCert/clientKey or NOKUBE_CLIENT_CERT/KEY). */
export interface ClientCertFiles {
  cert: string;
  key: string;
}

/** Node's codes for a peer certificate that was not trusted. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** How a connection the head closed right after the handshake shows (undici, Node). */
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`${what} ${file}: ${(err as Error).message}`);
  }
}

export async function headTls(caFile: string | undefined, client?: ClientCertFiles): Promise<HeadTls> {
  const explain = (err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    // A head cuts off a client certificate of another CA right after the handshake: the client only sees
    // the connection closed.
    if (client && e.code && CLOSED.has(e.code))
      return `${e.message}: does the head trust the client certificate ${client.cert}? (a head closes connections whose certificate is not of the cluster CA; context clientCert or NOKUBE_CLIENT_CERT)`;
    if (!e.code || !UNTRUSTED.has(e.code)) return e.message;
    const why = caFile
      ? `it does not verify against the cluster CA ${caFile}`
      : 'the CLI has no cluster CA (nokube new-or-update <cluster.yaml> saves it in the context; or set NOKUBE_CA)';
    return `the head's certificate is not trusted (${e.message}): ${why}`;
  };
  if (!caFile && !client) return { fetch, explain };
  const [ca, cert, key] = await Promise.all([
    caFile ? readPem(caFile, 'cluster CA (context headCa or NOKUBE_CA)') : undefined,
    client
      ? readPem(client.cert, 'client certificate (context clientCert or NOKUBE_CLIENT_CERT)')
      : undefined,
    client ? readPem(client.key, 'client key (context clientKey or NOKUBE_CLIENT_KEY)') : undefined,
  ]);
  const undici = await import('undici');
  const dispatcher = new undici.Agent({
    connect: { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) },
  });
  const viaTls = ((input: string, init?: RequestInit) =>
    undici.fetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  return { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}), fetch: viaTls, explain };
}
