// Reaching a head's HTTP API: --server, NOKUBE_SERVER, or the live heads registered in etcd. The heads
// last found in etcd are remembered per cluster ($NOKUBE_HOME/heads.json), the last one that answered
// first, and tried first, so most commands never connect to etcd (loading the etcd client alone is
// ~140 ms). They are tried as RFC 8305 tries addresses (happy-eyeballs.ts): a head that has not answered
// /healthz after HEAD_STAGGER_MS has the next one tried beside it, and gets HEAD_CONNECT_TIMEOUT_MS in
// all, so a dead or frozen head costs a quarter of a second, not a request's timeout. When none of them
// answers, or they serve another cluster (each request names ours in X-Nokube-Cluster; such a head
// answers 421), etcd is asked again. The request itself then goes to the head that answered, once: apply,
// delete and exec are sent again only when the head said it did nothing (503 with Retry-After: etcd was
// not asked, as for a second after etcd comes back), as kubectl does on such an answer.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../agent/errors.ts';
import {
  type ClientContext,
  type ContextFlags,
  clientCertificate,
  nokubeHome,
  resolveContext,
  resolveToken,
} from './context.ts';
import { firstToAnswer } from './happy-eyeballs.ts';
import { type ClientCertFiles, type HeadTls, headTls } from './head-tls.ts';

export interface HeadFlags extends ContextFlags {
  server?: string;
  /** The token to send instead of NOKUBE_TOKEN / the saved one (`nokube login` checking a new one). */
  token?: string;
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
  /** Keep the heads in this order for the next command. */
  remember?: (urls: string[]) => Promise<void>;
  /** The cluster CA (a path) the heads are verified against (config `tls`). */
  ca?: string;
  /** The client certificate presented to the heads (config `tls`: cli.pem). */
  client?: ClientCertFiles;
}

/** The context's client certificate as files to present. */
const clientOf = (ctx: Pick<ClientContext, 'clientCert' | 'clientKey'>) =>
  ctx.clientCert && ctx.clientKey ? { client: { cert: ctx.clientCert, key: ctx.clientKey } } : {};

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
    const ctx = await resolveContext(flags).catch(() => undefined);
    const ca = ctx?.headCa ?? (process.env.NOKUBE_CA || undefined);
    return {
      urls: [explicit.replace(/\/$/, '')],
      ...(ctx ? { cluster: ctx.cluster } : {}),
      ...(ca ? { ca } : {}),
      ...clientOf(ctx ?? clientCertificate(undefined)),
    };
  }
  const ctx = await resolveContext(flags);
  const key = `${ctx.cluster}@${ctx.etcd.endpoints.join(',')}`;
  const remember = (urls: string[]) => rememberHeads(key, urls);
  const cached = (await readHeadsCache())[key];
  const ca = { ...(ctx.headCa ? { ca: ctx.headCa } : {}), ...clientOf(ctx) };
  if (cached && cached.length > 0)
    return { urls: cached, cluster: ctx.cluster, more: () => headsInEtcd(ctx), remember, ...ca };
  return { urls: await headsInEtcd(ctx), cluster: ctx.cluster, remember, ...ca };
}

async function headsInEtcd(ctx: Awaited<ReturnType<typeof resolveContext>>): Promise<string[]> {
  const [{ connectEtcd }, { listNodes }] = await Promise.all([
    import('../../agent/store/etcd.ts'),
    import('../../agent/store/node-registry.ts'),
  ]);
  const etcd = await connectEtcd(ctx.etcd);
  try {
    const heads = (await listNodes(etcd, ctx.cluster)).filter((n) => n.api && !n.stoppedAt);
    if (heads.length === 0)
      throw new UsageError(
        `no head of cluster "${ctx.cluster}" is registered in etcd (is a head agent running?)`,
      );
    return heads.map((h) => h.api!);
  } finally {
    etcd.close();
  }
}

/** How long a head may take to answer /healthz before it counts as down (a request's own time is not
 * limited by it). A live head answers it from its event loop, without etcd, in two round trips (connect,
 * request): 2 s leaves room for a satellite link's ~600 ms. Speed comes from the stagger, not from this. */
const HEAD_CONNECT_TIMEOUT_MS = 2000;
/** When every head known was slower than that, they are asked again and given this long: a head on a
 * saturated host answers late rather than never (a CI run's one head took over 2 s), and with nobody
 * faster there is nothing better to do than wait for it. */
const HEAD_SLOW_TIMEOUT_MS = 10_000;
/** RFC 8305's "connection attempt delay": the next head is tried this long after the previous one. */
const HEAD_STAGGER_MS = 250;
/** A request's own time, once a head answered. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How often a request the head answered 503 with Retry-After is sent again, and the longest wait honoured
 * between two sends (the head asks for 1 s: etcd's breaker, agent/store/etcd.ts). */
const RETRY_AFTER = { times: 5, maxWaitMs: 5000 };

export interface PickedHead {
  server: string;
  headers: Record<string, string>;
  /** The cluster CA's PEM when the context names one: WebSockets verify the head against it too. */
  ca?: Buffer;
  /** The client certificate and key PEM when the context names them: WebSockets present them too. */
  cert?: Buffer;
  key?: Buffer;
  /** fetch, verifying an https head against `ca` when given. */
  fetch: typeof fetch;
}

/** A head answered "connected" only when it answered: a frozen process still completes TCP handshakes. */
async function probe(
  server: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  tls: HeadTls,
  timeoutMs: number,
  slow: Set<string>,
): Promise<void> {
  let res: Response;
  try {
    res = await tls.fetch(`${server}/healthz`, {
      headers,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError') {
      slow.add(server);
      throw new Error(`no answer within ${timeoutMs} ms`);
    }
    throw new Error(tls.explain(e.cause ?? e));
  }
  const text = (await res.text()).trim();
  // 421: a head of another cluster (its message says which).
  if (!res.ok) throw new Error(res.status === 421 ? text : `HTTP ${res.status} ${text}`);
}

async function pick(flags: HeadFlags): Promise<PickedHead> {
  const c = await candidates(flags);
  const tls = await headTls(c.ca, c.client);
  const token = flags.token ?? (await resolveToken(c.cluster));
  // Every request and WebSocket carries the token (NOKUBE_TOKEN, else `nokube login`'s).
  const headers: Record<string, string> = {
    ...(c.cluster ? { [CLUSTER_HEADER]: c.cluster } : {}),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const slow = new Set<string>();
  const race = (urls: string[], timeoutMs = HEAD_CONNECT_TIMEOUT_MS) =>
    firstToAnswer(
      urls,
      (server, signal) => probe(server, headers, signal, tls, timeoutMs, slow),
      HEAD_STAGGER_MS,
    );
  let result = await race(c.urls);
  let known = c.urls;
  if ('errors' in result && c.more) {
    const errors = result.errors;
    try {
      known = await c.more();
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new Error(
        `no head answered (${errors.join('; ')}); asking etcd for others: ${(err as Error).message}`,
      );
    }
    result = await race(known.filter((u) => !c.urls.includes(u)));
    if ('errors' in result) result = { errors: [...errors, ...result.errors] };
  }
  if ('errors' in result && slow.size > 0) {
    const again = [...slow];
    // What the others said stays; the slow ones' first timeouts are replaced by their second answer.
    const errors = result.errors.filter((e) => !again.some((u) => e.startsWith(`${u}: `)));
    slow.clear();
    result = await race(again, HEAD_SLOW_TIMEOUT_MS);
    if ('errors' in result) result = { errors: [...errors, ...result.errors] };
  }
  if ('errors' in result) throw new Error(`no head answered: ${result.errors.join('; ') || 'none known'}`);
  // The one that answered is tried first next time.
  await c.remember?.([result.server, ...known.filter((u) => u !== result.server)]);
  return {
    server: result.server,
    headers,
    fetch: tls.fetch,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
  };
}

/** One pick per command (describe's two requests, get -w's list and watch go to the same head). */
const picked = new WeakMap<HeadFlags, Promise<PickedHead>>();

/** The head that answers first (happy eyeballs over the known heads; firstToAnswer). */
export function liveHead(flags: HeadFlags): Promise<PickedHead> {
  let p = picked.get(flags);
  if (!p) {
    p = pick(flags);
    picked.set(flags, p);
  }
  return p;
}

/** Options of a WebSocket to the picked head: its headers, the cluster CA to verify it against, and the
 * client certificate to present. */
export function socketOptions(head: PickedHead): {
  headers: Record<string, string>;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
} {
  return {
    headers: head.headers,
    ...(head.ca ? { ca: head.ca } : {}),
    ...(head.cert && head.key ? { cert: head.cert, key: head.key } : {}),
  };
}

/** GET a JSON document from the first head that answers. */
export async function headGet<T>(flags: HeadFlags, path: string): Promise<{ body: T; server: string }> {
  const { server } = await liveHead(flags);
  return { body: await headRequest<T>(flags, 'GET', path), server };
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

/** Send a request to the head that answers first (again only after a 503 with Retry-After); an HTTP error
 * answer is a HeadError. */
export async function headRequest<T>(
  flags: HeadFlags,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  for (let retries = RETRY_AFTER.times; ; retries--) {
    const answer = await sendOnce<T>(flags, method, path, body);
    if (!('retryAfterMs' in answer)) return answer.value;
    if (retries === 0) throw answer.error;
    await new Promise((r) => setTimeout(r, Math.min(answer.retryAfterMs, RETRY_AFTER.maxWaitMs)));
  }
}

/** Retry-After in milliseconds (seconds or an HTTP date, RFC 9110 10.2.3); undefined when absent or bad. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function sendOnce<T>(
  flags: HeadFlags,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ value: T } | { error: HeadError; retryAfterMs: number }> {
  const { server, headers, fetch } = await liveHead(flags);
  let res: Response;
  try {
    res = await fetch(`${server}${path}`, {
      method,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(body === undefined
        ? { headers }
        : { body: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } }),
    });
  } catch (err) {
    const e = err as Error;
    const reason =
      e.name === 'TimeoutError'
        ? `no answer within ${REQUEST_TIMEOUT_MS} ms`
        : ((e.cause as Error)?.message ?? e.message);
    throw new Error(`${method} ${path} at ${server}: ${reason}`);
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
    const error = new HeadError(res.status, e.problems?.join('\n') ?? e.error ?? `HTTP ${res.status}`);
    const wait = res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
    if (wait === undefined) throw error;
    return { error, retryAfterMs: wait };
  }
  return { value: parsed as T };
}

export const headPost = <T>(flags: HeadFlags, path: string, body: unknown) =>
  headRequest<T>(flags, 'POST', path, body);
export const headDelete = <T>(flags: HeadFlags, path: string) => headRequest<T>(flags, 'DELETE', path);
