// One informer over one etcd key prefix, as client-go's reflector + store: list the prefix at revision R,
// then watch from R+1 into an in-memory cache (keys relative to the prefix, e.g. `default/web-1`).
// Handlers hear add / update / delete exactly once per change, in etcd's order. When the watch breaks or
// is compacted away, the informer lists again and tells the handlers only the difference from its
// cache, so nothing is lost or told twice. `waitFor(revision)` lets a writer wait until the cache holds
// its own write. Reading the cache costs etcd nothing.
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from '../../log/logger.ts';
import { shortReason } from '../etcd.ts';

export interface Entry<T> {
  value: T;
  modRevision: string;
  createRevision: string;
}

/** How a handler heard of an entry: a watch event (a change made since the last list read: just now,
 * unless this process was paused or the list was slow), a (re)list's difference from the cache (a change
 * made at some time while no watch ran), or the cache itself (a late handler's replay, a resync). */
export type Via = 'watch' | 'list' | 'memory';

export interface Handlers<T> {
  add?(key: string, entry: Entry<T>, via: Via): void;
  update?(key: string, entry: Entry<T>, old: Entry<T>, via: Via): void;
  delete?(key: string, old: Entry<T>): void;
  /** After every (re)list is applied: the cache is complete at `revision`. */
  listed?(revision: bigint): void;
}

export interface InformerOptions<T> {
  etcd: Etcd3;
  prefix: string;
  /** A value that does not decode is logged and left out of the cache (never throws into handlers). */
  decode: (kv: IKeyValue) => T;
  log: Logger;
}

/** Re-list retries: 250 ms doubling to 5 s while etcd does not answer. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

export class Informer<T> {
  readonly prefix: string;
  private readonly opts: InformerOptions<T>;
  private readonly cache = new Map<string, Entry<T>>();
  private readonly handlers = new Set<Handlers<T>>();
  private readonly waiters = new Set<{ revision: bigint; done: () => void }>();
  private rev = 0n;
  private watcher: Watcher | undefined;
  /** Bumped on every re-list: events of an older watcher are ignored. */
  private generation = 0;
  /** Lists run in this chain; `queued` is the one not started yet. */
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private synced = false;
  private stopped = false;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private firstList: Promise<void> | undefined;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.prefix = opts.prefix;
  }

  /** Resolves once the first list is in the cache (retrying until etcd answers or the informer stops). */
  start(): Promise<void> {
    this.firstList ??= new Promise<void>((resolve) => {
      const off = this.on({
        listed: () => {
          off();
          resolve();
        },
      });
      void this.relist();
    });
    return this.firstList;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    for (const w of this.waiters) w.done();
    this.waiters.clear();
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = undefined;
  }

  /** The revision the cache is complete at: every change up to it is applied. */
  get revision(): bigint {
    return this.rev;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  get(key: string): Entry<T> | undefined {
    return this.cache.get(key);
  }

  /** Entries whose key starts with `under` (all by default), in no particular order. */
  entries(under = ''): Array<[string, Entry<T>]> {
    const out: Array<[string, Entry<T>]> = [];
    for (const kv of this.cache) if (kv[0].startsWith(under)) out.push(kv);
    return out;
  }

  get size(): number {
    return this.cache.size;
  }

  /** Handlers; when the cache is already listed, `add` hears every entry at once (unless `replay` is
   * false: the caller has read the cache itself). Returns `off`. */
  on(h: Handlers<T>, replay = true): () => void {
    this.handlers.add(h);
    if (this.synced && replay) {
      for (const [k, e] of this.cache) this.call(h, 'add', k, e, 'memory');
      this.call(h, 'listed', this.rev);
    }
    return () => this.handlers.delete(h);
  }

  /** Resync (client-go's): every cached entry told to `update` again, from memory; etcd is not asked. */
  resync(): void {
    for (const [k, e] of this.cache) for (const h of this.handlers) this.call(h, 'update', k, e, e, 'memory');
  }

  /** Wait until the cache holds every change up to `revision` (e.g. a write's own revision). */
  waitFor(revision: bigint, timeoutMs: number): Promise<void> {
    if (this.rev >= revision || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = {
        revision,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(
          new Error(`${this.prefix}: revision ${revision} not seen within ${timeoutMs} ms (at ${this.rev})`),
        );
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** List again and watch from there (on a broken or compacted watch; tests call it to force one). Lists
   * run one at a time; a call while one runs queues one more (calls while that one waits share it). */
  relist(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.chain.then(() => {
      this.queued = undefined;
      return this.listOnce();
    });
    this.queued = next;
    this.chain = next;
    return next;
  }

  private async listOnce(): Promise<void> {
    const gen = ++this.generation;
    const old = this.watcher;
    this.watcher = undefined;
    await old?.cancel().catch(() => undefined);
    if (this.stopped) return;
    let res: Awaited<ReturnType<ReturnType<Etcd3['getAll']>['exec']>>;
    try {
      res = await this.opts.etcd.getAll().prefix(this.prefix).exec();
    } catch (err) {
      this.retryLater(err);
      return;
    }
    if (this.stopped || gen !== this.generation) return;
    this.retryMs = RETRY_FIRST_MS;
    this.applyList(res.kvs, BigInt(res.header.revision));
    this.watch(gen, BigInt(res.header.revision) + 1n);
  }

  private retryLater(err: unknown): void {
    if (this.stopped) return;
    this.opts.log.debug(
      { prefix: this.prefix, err: shortReason(err), retryInMs: this.retryMs },
      'list failed',
    );
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.relist(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  /** The list is the truth at `revision`: handlers hear the difference from the cache. */
  private applyList(kvs: IKeyValue[], revision: bigint): void {
    const seen = new Set<string>();
    for (const kv of kvs) {
      const key = kv.key.toString('utf8').slice(this.prefix.length);
      seen.add(key);
      const old = this.cache.get(key);
      if (old && old.modRevision === kv.mod_revision) continue;
      this.put(key, kv, 'list');
    }
    for (const [key, old] of [...this.cache])
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.tell('delete', key, old);
      }
    this.rev = revision;
    this.synced = true;
    for (const h of [...this.handlers]) this.call(h, 'listed', revision);
    this.release();
  }

  private watch(gen: number, from: bigint): void {
    const w = this.opts.etcd.watch().prefix(this.prefix).startRevision(String(from)).watcher();
    this.watcher = w;
    w.on('data', (res: IWatchResponse) => {
      if (gen === this.generation) this.applyEvents(res);
    });
    // A broken stream or a watch etcd cancelled (compacted past `from`): list again. etcd3 would resume
    // on its own, but from a revision it may have moved past events not yet delivered.
    const broken = (err: Error) => {
      if (gen !== this.generation || this.stopped) return;
      this.opts.log.debug({ prefix: this.prefix, err: shortReason(err) }, 'watch broke; listing again');
      this.retryLater(err);
    };
    w.on('disconnected', broken);
    w.on('error', broken);
  }

  private applyEvents(res: IWatchResponse): void {
    // The changes of one transaction share its revision and come in one response: only what the cache
    // held before this response (the list's revision on a first response) is skipped.
    const held = this.rev;
    for (const ev of res.events) {
      const revision = BigInt(ev.kv.mod_revision);
      if (revision <= held) continue;
      const key = ev.kv.key.toString('utf8').slice(this.prefix.length);
      if (ev.type === 'Put') this.put(key, ev.kv, 'watch');
      else {
        const old = this.cache.get(key);
        this.cache.delete(key);
        if (old) this.tell('delete', key, old);
      }
      this.rev = revision;
    }
    // A progress notification (no events): everything up to its revision has been sent.
    if (res.events.length === 0 && BigInt(res.header.revision) > this.rev)
      this.rev = BigInt(res.header.revision);
    this.release();
  }

  private put(key: string, kv: IKeyValue, via: Via): void {
    let value: T;
    try {
      value = this.opts.decode(kv);
    } catch (err) {
      this.opts.log.warn({ key: kv.key.toString('utf8'), err: String(err) }, 'undecodable value left out');
      return;
    }
    const entry = { value, modRevision: kv.mod_revision, createRevision: kv.create_revision };
    const old = this.cache.get(key);
    this.cache.set(key, entry);
    if (old) this.tell('update', key, entry, old, via);
    else this.tell('add', key, entry, via);
  }

  /** Every handler, with the arguments of `what` (Handlers). */
  private tell(what: 'add' | 'update' | 'delete', ...args: unknown[]): void {
    for (const h of [...this.handlers]) this.call(h, what, ...args);
  }

  private call(h: Handlers<T>, what: keyof Handlers<T>, ...args: unknown[]): void {
    try {
      (h[what] as ((...a: unknown[]) => void) | undefined)?.(...args);
    } catch (err) {
      this.opts.log.error({ prefix: this.prefix, handler: what, err: String(err) }, 'informer handler threw');
    }
  }

  private release(): void {
    for (const w of [...this.waiters]) if (w.revision <= this.rev) w.done();
  }
}
