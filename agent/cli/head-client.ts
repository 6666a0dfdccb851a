// Reaching a head's HTTP API: --server, NOKUBE_SERVER, or the live heads registered in etcd. The heads
// last found in etcd are remembered per cluster ($NOKUBE_HOME/heads.json) and tried first, so most commands
// never connect to etcd (loading the etcd client alone is ~140 ms); a remembered head that does not answer,
// or that serves another cluster (each request names ours in X-Nokube-Cluster; such a head answers 421),
// sends us to etcd again.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ContextFlags, nokubeHome, resolveContext } from './context.ts';
import { UsageError } from './output.ts';

export interface HeadFlags extends ContextFlags {
  server?: string;
}

/** The header that names the cluster a request is meant for. */
export const CLUSTER_HEADER = 'x-nokube-cluster';

interface Candidates {
  /** Heads to try now. */
  urls: string[];
  /** The cluster the request is for (undefined with an explicit server and no context). */
  cluster?: string;
  /** Where more heads can be found when these fail (etcd), if anywhere. */
  more?: () => Promise<string[]>;
}

const headsFile = () => join(nokubeHome(), 'heads.json');
type HeadsCache = Record<string, string[]>;

async function readHeadsCache(): Promise<HeadsCache> {
  try {
    return JSON.parse(await readFile(headsFile(), 'utf8')) as HeadsCache;
  } catch {
    return {};
  }
}

async function rememberHeads(key: string, urls: string[]): Promise<void> {
  const cache = await readHeadsCache();
  if (cache[key]?.join() === urls.join()) return;
  cache[key] = urls;
  await mkdir(nokubeHome(), { recursive: true, mode: 0o700 })
    .then(() => writeFile(headsFile(), `${JSON.stringify(cache, null, 2)}\n`, { mode: 0o600 }))
    .catch(() => undefined);
}

async function candidates(flags: HeadFlags): Promise<Candidates> {
  const explicit = flags.server ?? process.env.NOKUBE_SERVER;
  if (explicit) {
    const cluster = await resolveContext(flags).then(
      (c) => c.cluster,
      () => undefined,
    );
    return { urls: [explicit.replace(/\/$/, '')], ...(cluster ? { cluster } : {}) };
  }
  const ctx = await resolveContext(flags);
  const key = `${ctx.cluster}@${ctx.etcd.endpoints.join(',')}`;
  const fromEtcd = async () => {
    const urls = await headsInEtcd(ctx);
    await rememberHeads(key, urls);
    return urls;
  };
  const cached = (await readHeadsCache())[key];
  if (cached && cached.length > 0) return { urls: cached, cluster: ctx.cluster, more: fromEtcd };
  return { urls: await fromEtcd(), cluster: ctx.cluster };
}

async function headsInEtcd(ctx: Awaited<ReturnType<typeof resolveContext>>): Promise<string[]> {
  const [{ connectEtcd }, { listNodes }] = await Promise.all([
    import('../store/etcd.ts'),
    import('../store/node-registry.ts'),
  ]);
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

/**
 * Try `attempt` on each head until one answers; `attempt` returns undefined when that head did not answer
 * (connection error, or a head of another cluster), so the next is tried, then the ones etcd knows.
 */
async function withHeads<T>(
  flags: HeadFlags,
  what: string,
  attempt: (server: string, headers: Record<string, string>, errors: string[]) => Promise<T | undefined>,
): Promise<T> {
  const c = await candidates(flags);
  const headers: Record<string, string> = c.cluster ? { [CLUSTER_HEADER]: c.cluster } : {};
  const errors: string[] = [];
  const tried = new Set<string>();
  let urls = c.urls;
  for (let round = 0; round < 2; round++) {
    for (const server of urls) {
      if (tried.has(server)) continue;
      tried.add(server);
      const r = await attempt(server, headers, errors);
      if (r !== undefined) return r;
    }
    if (!c.more) break;
    urls = await c.more();
  }
  throw new Error(`no head answered ${what}: ${errors.join('; ')}`);
}

/** The first head that answers /healthz (for WebSocket streams, which need one server up front). */
export async function liveHead(
  flags: HeadFlags,
): Promise<{ server: string; headers: Record<string, string> }> {
  return withHeads(flags, '/healthz', async (server, headers, errors) => {
    try {
      const res = await fetch(`${server}/healthz`, { headers, signal: AbortSignal.timeout(5000) });
      if (res.ok) return { server, headers };
      errors.push(`${server}: HTTP ${res.status} ${await res.text()}`);
    } catch (err) {
      errors.push(`${server}: ${(err as Error).message}`);
    }
    return undefined;
  });
}

/** GET a JSON document from the first head that answers. */
export async function headGet<T>(flags: HeadFlags, path: string): Promise<{ body: T; server: string }> {
  return withHeads(flags, path, async (server, headers, errors) => {
    try {
      const res = await fetch(`${server}${path}`, { headers, signal: AbortSignal.timeout(5000) });
      if (!res.ok) {
        errors.push(`${server}: HTTP ${res.status} ${await res.text()}`);
        return undefined;
      }
      return { body: (await res.json()) as T, server };
    } catch (err) {
      errors.push(`${server}: ${(err as Error).message}`);
      return undefined;
    }
  });
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
  return withHeads(flags, `${method} ${path}`, async (server, headers, errors) => {
    let res: Response;
    try {
      res = await fetch(`${server}${path}`, {
        method,
        signal: AbortSignal.timeout(30_000),
        ...(body === undefined
          ? { headers }
          : { body: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } }),
      });
    } catch (err) {
      errors.push(`${server}: ${(err as Error).message}`);
      return undefined;
    }
    const text = await res.text();
    if (res.status === 421) {
      errors.push(`${server}: ${text}`);
      return undefined;
    }
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
  });
}

export const headPost = <T>(flags: HeadFlags, path: string, body: unknown) =>
  headRequest<T>(flags, 'POST', path, body);
export const headDelete = <T>(flags: HeadFlags, path: string) => headRequest<T>(flags, 'DELETE', path);
