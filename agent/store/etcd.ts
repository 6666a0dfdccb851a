// Connecting to etcd: fail fast with one clear line when it cannot be reached.
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import type { ClusterConfig } from '../config/schema.ts';

export class EtcdUnreachableError extends Error {
  constructor(endpoints: string[], reason: string) {
    super(`etcd unreachable at ${endpoints.join(', ')}: ${reason}`);
    this.name = 'EtcdUnreachableError';
  }
}

export type EtcdSettings = Pick<ClusterConfig['etcd'], 'endpoints' | 'dialTimeoutMs' | 'tls'>;

/**
 * A client (not yet connected). etcd3 is loaded here, on first use: loading it (gRPC + its protobuf
 * definitions) is ~140 ms, which CLI commands that never talk to etcd should not pay.
 */
export async function createEtcd(settings: EtcdSettings): Promise<Etcd3> {
  const { Etcd3 } = await import('etcd3');
  const options: IOptions = { hosts: settings.endpoints, dialTimeout: settings.dialTimeoutMs };
  if (settings.tls) {
    options.credentials = {
      rootCertificate: readFileSync(settings.tls.ca),
      certChain: readFileSync(settings.tls.cert),
      privateKey: readFileSync(settings.tls.key),
    };
  }
  return new Etcd3(options);
}

/** Open a client and prove it works with one read, within dialTimeoutMs. */
export async function connectEtcd(settings: EtcdSettings): Promise<Etcd3> {
  const client = await createEtcd(settings);
  try {
    await withTimeout(client.get('/nokube/.probe').string(), settings.dialTimeoutMs, 'no answer');
    return client;
  } catch (err) {
    client.close();
    throw new EtcdUnreachableError(
      settings.endpoints,
      `${shortReason(err)} (within ${settings.dialTimeoutMs} ms)`,
    );
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.replace(/^\d+ [A-Z_]+: /, '');
}
