// How the CLI trusts an HTTPS head: against the cluster CA its context names (config `tls`; saved by
// new-or-update and up, or NOKUBE_CA), never against the system's CAs alone. Without a CA, requests
// go through Node's own fetch (and the system's CAs); undici is loaded only when a CA is given.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../agent/errors.ts';

export interface HeadTls {
  /** The CA's PEM, when the context names one. */
  ca?: Buffer;
  fetch: typeof fetch;
  /** One line for a failed connection: a certificate the CLI does not trust is said so, with the fix. */
  explain(err: unknown): string;
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

export async function headTls(caFile: string | undefined): Promise<HeadTls> {
  const explain = (err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    if (!e.code || !UNTRUSTED.has(e.code)) return e.message;
    const why = caFile
      ? `it does not verify against the cluster CA ${caFile}`
      : 'the CLI has no cluster CA (nokube new-or-update <cluster.yaml> saves it in the context; or set NOKUBE_CA)';
    return `the head's certificate is not trusted (${e.message}): ${why}`;
  };
  if (!caFile) return { fetch, explain };
  let ca: Buffer;
  try {
    ca = await readFile(caFile);
  } catch (err) {
    throw new UsageError(`cluster CA ${caFile} (context headCa or NOKUBE_CA): ${(err as Error).message}`);
  }
  const undici = await import('undici');
  const dispatcher = new undici.Agent({ connect: { ca } });
  const viaCa = ((input: string, init?: RequestInit) =>
    undici.fetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  return { ca, fetch: viaCa, explain };
}
