// Reaching a head's HTTP API: --server, NOKUBE_SERVER, or the first live head found in etcd's node records.
import { connectEtcd } from '../store/etcd.ts';
import { listNodes } from '../store/node-registry.ts';
import { type ContextFlags, resolveContext } from './context.ts';
import { UsageError } from './output.ts';

export interface HeadFlags extends ContextFlags {
  server?: string;
}

export async function headUrls(flags: HeadFlags): Promise<string[]> {
  const explicit = flags.server ?? process.env.NOKUBE_SERVER;
  if (explicit) return [explicit.replace(/\/$/, '')];
  const ctx = await resolveContext(flags);
  const etcd = await connectEtcd(ctx.etcd);
  try {
    const heads = (await listNodes(etcd, ctx.cluster)).filter((n) => n.api);
    if (heads.length === 0)
      throw new UsageError(
        `no head of cluster "${ctx.cluster}" is registered in etcd (is a head agent running?)`,
      );
    return heads.map((h) => h.api!);
  } finally {
    etcd.close();
  }
}

/** GET a JSON document from the first head that answers. */
export async function headGet<T>(flags: HeadFlags, path: string): Promise<{ body: T; server: string }> {
  const errors: string[] = [];
  for (const server of await headUrls(flags)) {
    try {
      const res = await fetch(`${server}${path}`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) {
        errors.push(`${server}: HTTP ${res.status} ${await res.text()}`);
        continue;
      }
      return { body: (await res.json()) as T, server };
    } catch (err) {
      errors.push(`${server}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no head answered ${path}: ${errors.join('; ')}`);
}

/** A head answered with an error (HTTP 4xx/5xx): its message, one line per problem. */
export class HeadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HeadError';
    this.status = status;
  }
}

/** Send a request to the first head that answers; an HTTP error answer is final (HeadError). */
export async function headRequest<T>(
  flags: HeadFlags,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const errors: string[] = [];
  for (const server of await headUrls(flags)) {
    let res: Response;
    try {
      res = await fetch(`${server}${path}`, {
        method,
        signal: AbortSignal.timeout(30_000),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (err) {
      errors.push(`${server}: ${(err as Error).message}`);
      continue;
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { error: text };
    }
    if (!res.ok) {
      const e = parsed as { error?: string; problems?: string[] };
      throw new HeadError(res.status, e.problems?.join('\n') ?? e.error ?? `HTTP ${res.status}`);
    }
    return parsed as T;
  }
  throw new Error(`no head answered ${method} ${path}: ${errors.join('; ')}`);
}

export const headPost = <T>(flags: HeadFlags, path: string, body: unknown) =>
  headRequest<T>(flags, 'POST', path, body);
export const headDelete = <T>(flags: HeadFlags, path: string) => headRequest<T>(flags, 'DELETE', path);
