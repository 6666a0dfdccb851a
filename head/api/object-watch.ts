// `get -w` (WS /api/v1/watch/<resource>?namespace=&labelSelector=&resourceVersion=): one JSON message per
// change of an object of the resource or of its status, {type: ADDED|MODIFIED|DELETED, object}, served
// from the agent's shared informers (agent/store/informer): a thousand watchers cost etcd one watch.
// With the resourceVersion of the client's list, the objects and statuses as they were at that revision
// are read once from etcd (its history) and the difference to the cache is sent first, so a change made
// between the list and the watch is neither lost nor sent twice. Changes are coalesced per object within
// one turn of the event loop; a client that reads too slowly is disconnected.
import type { Etcd3, IKeyValue } from 'etcd3';
import type { WebSocket } from 'ws';
import type { AgentContext } from '../../agent/context.ts';
import { labelsMatch, parseLabelQuery } from '../../agent/objects/label-query.ts';
import { fromKv } from '../../agent/objects/store.ts';
import { KINDS, type KubeObject, namespaced, RESOURCE } from '../../agent/objects/types.ts';
import { sealedEnvelope } from '../../agent/secrets/sealed-secret.ts';
import { shortReason } from '../../agent/store/etcd.ts';
import { objectInformer, statusInformer, withStatus } from '../../agent/store/informer/cluster.ts';
import type { Informer } from '../../agent/store/informer/informer.ts';
import { redact } from './objects.ts';

/** A watch client further behind than this is disconnected rather than buffered without bound. */
const WATCH_MAX_BUFFERED_BYTES = 1 << 20;
const WATCH_MAX_PENDING = 10_000;

const KIND_OF_RESOURCE = new Map(KINDS.map((k) => [RESOURCE[k], k]));

export const isObjectsWatchPath = (path: string): boolean => /^\/api\/v1\/watch\/[a-z]+$/.test(path);

export function serveWatch(ctx: AgentContext, ws: WebSocket, url: URL): void {
  const resource = url.pathname.split('/').at(-1)!;
  const kind = KIND_OF_RESOURCE.get(resource);
  const close = (code: number, reason: string) => ws.close(code, reason.slice(0, 120));
  if (!kind) {
    close(1008, `unknown resource "${resource}"`);
    return;
  }
  const namespace = url.searchParams.get('namespace') || undefined;
  const selector = url.searchParams.get('labelSelector') ?? undefined;
  const showSecrets = url.searchParams.get('secrets') === 'show';
  try {
    if (selector) parseLabelQuery(selector);
  } catch (err) {
    close(1008, (err as Error).message);
    return;
  }
  const rev = url.searchParams.get('resourceVersion');
  const listedAt = rev && /^\d+$/.test(rev) ? BigInt(rev) : undefined;
  const under = namespace && namespaced(kind) ? `${namespace}/` : '';
  const objects = objectInformer(ctx.etcd, ctx.cluster, resource, ctx.log);
  const statuses = statusInformer(ctx.etcd, ctx.cluster, resource, ctx.log);
  /** What the client was last told of each object (`<ns>/<name>` or `<name>`). */
  const known = new Map<string, KubeObject>();
  const pending = new Set<string>();
  let flushing: NodeJS.Immediate | undefined;
  let closed = false;

  const emit = (type: string, object: KubeObject) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > WATCH_MAX_BUFFERED_BYTES) return close(1013, 'too slow: watch buffer full');
    // A Secret this head cannot open is sent redacted even when values are asked for: no envelope.
    const show = showSecrets && !(object.kind === 'Secret' && sealedEnvelope(object));
    ws.send(JSON.stringify({ type, object: show ? object : redact(object) }));
  };
  const current = (key: string) => {
    const e = objects.informer.get(key);
    return e && withStatus(e, statuses.informer.get(key)).object;
  };
  const flush = () => {
    flushing = undefined;
    for (const key of pending) {
      const now = current(key);
      const before = known.get(key);
      if (!now) {
        known.delete(key);
        if (before && labelsMatch(selector, before.metadata.labels)) emit('DELETED', before);
      } else {
        known.set(key, now);
        if (labelsMatch(selector, now.metadata.labels)) emit(before ? 'MODIFIED' : 'ADDED', now);
      }
    }
    pending.clear();
  };
  const changed = (key: string) => {
    if (closed || !key.startsWith(under)) return;
    if (pending.size >= WATCH_MAX_PENDING) return close(1013, 'too many pending changes');
    pending.add(key);
    flushing ??= setImmediate(flush);
  };
  const follow = { add: changed, update: changed, delete: changed };
  const offs: Array<() => void> = [];

  const start = async () => {
    await Promise.all([objects.informer.start(), statuses.informer.start()]);
    if (listedAt !== undefined) {
      const [then, thenStatus] = await Promise.all([
        readAt(ctx.etcd, objects.informer, under, listedAt),
        readAt(ctx.etcd, statuses.informer, under, listedAt),
      ]);
      if (closed) return;
      // The client's list: what it knows. What differs in the cache now is sent first.
      for (const [key, kv] of then) {
        const stored = fromKv(kv);
        const st = thenStatus.get(key);
        if (st) (stored.object as { status?: unknown }).status = JSON.parse(st.value.toString('utf8'));
        known.set(key, stored.object);
      }
      const differs = (key: string) =>
        newer(objects.informer, key, then.get(key)) || newer(statuses.informer, key, thenStatus.get(key));
      for (const key of new Set([...then.keys(), ...objects.informer.entries(under).map(([k]) => k)]))
        if (differs(key)) changed(key);
    }
    // Registered in the same turn as the difference was taken: no change falls between the two.
    offs.push(objects.informer.on(follow, false), statuses.informer.on(follow, false));
  };
  start().catch((err: Error) => {
    ctx.log.warn({ err: shortReason(err) }, 'object watch start failed');
    close(1011, `watch failed: ${shortReason(err)}`);
  });
  ws.on('close', () => {
    closed = true;
    clearImmediate(flushing);
    for (const off of offs) off();
    void objects.release();
    void statuses.release();
  });
}

/** The cache holds a newer state of `key` than `then` (the client's list). A cache still behind the list
 * (its watch has not brought a change the list saw yet) is not newer: that change comes as an event. */
function newer(informer: Informer<unknown>, key: string, then: IKeyValue | undefined): boolean {
  const now = informer.get(key);
  if (now && then) return BigInt(now.modRevision) > BigInt(then.mod_revision);
  if (then) return BigInt(then.mod_revision) <= informer.revision; // deleted since
  return now !== undefined;
}

/** The keys under `under` of an informer's prefix as they were at `revision` (etcd's history). */
async function readAt(etcd: Etcd3, informer: Informer<unknown>, under: string, revision: bigint) {
  const res = await etcd
    .getAll()
    .prefix(informer.prefix + under)
    .revision(String(revision))
    .exec();
  return new Map(res.kvs.map((kv) => [kv.key.toString('utf8').slice(informer.prefix.length), kv]));
}
