// The Shipper: one ordered, bounded queue of encoded HTTP bodies (remote-write batches, OTLP log batches) for
// one endpoint, shared by the metrics and logs pipelines.
//
// - enqueue() never blocks and never throws: the body joins the queue; beyond `maxBytes` the oldest bodies
//   are dropped and counted (reason "overflow").
// - One POST in flight, in order. Only a body GreptimeDB calls malformed (400, 413, 422; see greptime.ts for
//   what its answers mean) is dropped, counted (reason "malformed") and logged at most once a minute. Every
//   other failure keeps the body and is retried with exponential backoff and jitter (1 s -> 60 s): no answer,
//   5xx, 429, 401/403 (fix the credentials and nothing is lost: the password file is read again after
//   each, basic-auth.ts), an unreadable password file, and a missing database, which is created meanwhile
//   (database.ts). A failing streak is logged at its 1st, 2nd, 4th, 8th... failure, and when the
//   meaning of its failures changes.
// - While the endpoint fails, bodies live in the spool directory instead of memory (one file per body,
//   written asynchronously), so an agent cut off for hours holds at most `maxBytes` on disk and a few
//   bodies in memory; stop() writes what is still in memory there too, and a new Shipper on the same
//   directory sends the spool first (edge autonomy: nothing queued is lost across a restart).
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.ts';
import { type Backoff, backoffDelay, DEFAULT_BACKOFF, worthLogging } from './backoff.ts';
import type { BasicAuth } from './basic-auth.ts';
import { DatabaseCreator, type DatabaseOptions } from './database.ts';
import { failureMeaning, verdictOf } from './greptime.ts';

export interface ShipperOptions {
  pipeline: 'metrics' | 'logs';
  url: string;
  headers: Record<string, string>;
  contentType: string;
  /** Bound of everything queued (memory + spool), in bytes. */
  maxBytes: number;
  /** Where bodies wait while the endpoint fails, and across restarts. */
  spoolDir: string;
  log: Logger;
  /** The database the bodies go to, created when missing (at start and when a write says so). */
  database?: DatabaseOptions;
  /** GreptimeDB's basic auth (monitoring.greptimedb.auth), on every request. */
  auth?: BasicAuth;
  /** Backoff bounds (ms); the documented 1 s -> 60 s unless a test needs shorter. */
  backoff?: Backoff;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

/**
 * Why items were dropped: over the `maxBytes` bound; refused by GreptimeDB as malformed; their spool file
 * gone or unreadable.
 */
export type DropReason = 'overflow' | 'malformed' | 'unreadable';

export interface ShipperStats {
  queuedBytes: number;
  queuedBodies: number;
  /** Of the queued, how many wait in the spool directory. */
  spooledBodies: number;
  sentBodies: number;
  sentItems: number;
  droppedItems: number;
  droppedBodies: number;
  dropped: Record<DropReason, number>;
  /** Failed tries (kept and retried) since start. */
  failures: number;
  lastError?: string;
}

interface Entry {
  items: number;
  bytes: number;
  /** In memory until its spool file is written (or for good while the endpoint is healthy). */
  body: Uint8Array | undefined;
  /** Spool file name, once one is (being) written. */
  file?: string;
  written?: Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const REJECT_LOG_EVERY_MS = 60_000;
/** On a clean stop, how long the last bodies may take to go out before the rest is spooled. */
export const STOP_SEND_MS = 2000;
const FILE = /^(\d{12})-(\d+)\.bin$/;

export class Shipper {
  private readonly opts: ShipperOptions;
  private readonly backoff: Backoff;
  private readonly database: DatabaseCreator | undefined;
  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  private seq = 0;
  private sending = false;
  private stopped = false;
  /** Nothing is sent before the spool is read: its bodies are older and go first. */
  private loaded = false;
  /** Consecutive failures; > 0 means the endpoint is failing and new bodies go to the spool. */
  private failing = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private lastRejectLog = 0;
  /** What the last failure of the current streak meant (a change of meaning is logged at once). */
  private failingMeaning = '';
  private readonly ready: Promise<void>;
  private readonly counters = {
    sentBodies: 0,
    sentItems: 0,
    droppedItems: 0,
    droppedBodies: 0,
    overflow: 0,
    malformed: 0,
    unreadable: 0,
    failures: 0,
  };
  private lastError: string | undefined;

  constructor(opts: ShipperOptions) {
    this.opts = opts;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.database = opts.database
      ? new DatabaseCreator({
          ...opts.database,
          ...(opts.auth ? { auth: opts.auth } : {}),
          pipeline: opts.pipeline,
          log: opts.log,
          backoff: this.backoff,
          ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
        })
      : undefined;
    // Once per start, in the background: bodies go out meanwhile (the database may well exist).
    this.database?.ensure();
    this.ready = this.loadSpool()
      .catch((err) =>
        opts.log.warn({ err: String(err), dir: opts.spoolDir }, 'spool unreadable; starting empty'),
      )
      .then(() => {
        this.loaded = true;
        this.kick();
      });
  }

  enqueue(body: Uint8Array, items: number): void {
    if (this.stopped) {
      this.drop(items, 1, 'overflow');
      return;
    }
    const entry: Entry = { items, bytes: body.byteLength, body };
    this.queue.push(entry);
    this.queuedBytes += entry.bytes;
    if (this.failing > 0) this.spill(entry);
    this.trim();
    this.kick();
  }

  stats(): ShipperStats {
    const s: ShipperStats = {
      queuedBytes: this.queuedBytes,
      queuedBodies: this.queue.length,
      spooledBodies: this.queue.filter((e) => e.file !== undefined).length,
      sentBodies: this.counters.sentBodies,
      sentItems: this.counters.sentItems,
      droppedItems: this.counters.droppedItems,
      droppedBodies: this.counters.droppedBodies,
      dropped: {
        overflow: this.counters.overflow,
        malformed: this.counters.malformed,
        unreadable: this.counters.unreadable,
      },
      failures: this.counters.failures,
    };
    if (this.lastError) s.lastError = this.lastError;
    return s;
  }

  /**
   * Stop sending, after up to `sendForMs` for what is queued to go out while the endpoint answers; what is
   * unsent is in the spool directory when this resolves.
   */
  async stop(sendForMs = STOP_SEND_MS): Promise<void> {
    if (this.stopped) return;
    // While the endpoint answers, the last bodies may go out first: aborting the POST in flight would
    // spool a body the receiver may already have, and it would arrive twice after a restart.
    const until = Date.now() + sendForMs;
    while (this.queue.length > 0 && this.failing === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 25));
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.inFlight?.abort();
    this.database?.stop();
    await this.ready;
    for (const e of this.queue) if (!e.file) this.spill(e);
    await Promise.allSettled(this.queue.map((e) => e.written));
  }

  /** Drop the oldest bodies until the queue fits (the newest always stays: it is the freshest data). */
  private trim(): void {
    // Never the one in flight (the head while sending): it finishes or fails on its own.
    const first = this.sending ? 1 : 0;
    while (this.queuedBytes > this.opts.maxBytes && this.queue.length - first > 1) {
      const old = this.queue.splice(first, 1)[0]!;
      this.forget(old);
      this.drop(old.items, 1, 'overflow');
    }
  }

  private drop(items: number, bodies: number, reason: DropReason): void {
    this.counters.droppedItems += items;
    this.counters.droppedBodies += bodies;
    this.counters[reason] += items;
  }

  /** Remove an entry's bytes from the count and its spool file from the disk. */
  private forget(e: Entry): void {
    this.queuedBytes -= e.bytes;
    e.body = undefined;
    if (e.file) {
      const path = join(this.opts.spoolDir, e.file);
      void (e.written ?? Promise.resolve()).then(() => rm(path, { force: true })).catch(() => undefined);
    }
  }

  /** Move an entry's body to its spool file (asynchronously; it stays in memory until written). */
  private spill(e: Entry): void {
    if (e.file || !e.body) return;
    // Numbered after everything already on disk (the spool is read before anything is sent or spilled).
    e.file = `${String(this.seq++).padStart(12, '0')}-${e.items}.bin`;
    const body = e.body;
    e.written = mkdir(this.opts.spoolDir, { recursive: true })
      .then(() => writeFile(join(this.opts.spoolDir, e.file!), body))
      .then(
        () => {
          // Sent or dropped meanwhile: forget() already asked for the file to go.
          if (this.queue.includes(e)) e.body = undefined;
        },
        (err) => {
          this.opts.log.warn({ err: String(err), pipeline: this.opts.pipeline }, 'spool write failed');
          e.file = undefined;
        },
      );
  }

  private async loadSpool(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.opts.spoolDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const found: Entry[] = [];
    for (const name of names.sort()) {
      const m = FILE.exec(name);
      if (!m) continue;
      const { size } = await stat(join(this.opts.spoolDir, name));
      found.push({ items: Number(m[2]), bytes: size, body: undefined, file: name });
      this.seq = Math.max(this.seq, Number(m[1]) + 1);
    }
    if (found.length === 0) return;
    // Spooled bodies are older than anything enqueued since this Shipper started: they go first.
    this.queue.unshift(...found);
    this.queuedBytes += found.reduce((n, e) => n + e.bytes, 0);
    this.opts.log.info(
      { pipeline: this.opts.pipeline, bodies: found.length },
      'sending what was spooled before the restart',
    );
    this.trim();
  }

  private kick(): void {
    if (!this.loaded || this.sending || this.stopped || this.retryTimer || this.queue.length === 0) return;
    this.sending = true;
    this.sendHead()
      .catch((err) => this.opts.log.error({ err: String(err), pipeline: this.opts.pipeline }, 'send failed'))
      .finally(() => {
        this.sending = false;
        this.kick();
      });
  }

  private async sendHead(): Promise<void> {
    const e = this.queue[0]!;
    let body = e.body;
    try {
      if (!body) {
        await e.written;
        body = e.body ?? (await readFile(join(this.opts.spoolDir, e.file!)));
      }
    } catch (err) {
      // The spool file is gone or unreadable: nothing to send.
      this.opts.log.warn({ err: String(err), pipeline: this.opts.pipeline }, 'spooled body unreadable');
      this.remove(e);
      this.drop(e.items, 1, 'unreadable');
      return;
    }
    let authorization: string | undefined;
    try {
      authorization = await this.opts.auth?.authorization();
    } catch (err) {
      // The password file is missing or empty: keep the data until it is there.
      this.lastError = (err as Error).message;
      if (!this.stopped) this.retryLater('cannot read the GreptimeDB password', this.lastError);
      return;
    }
    const ctl = new AbortController();
    this.inFlight = ctl;
    const timeout = setTimeout(() => ctl.abort(), this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let status = 0;
    let answer = '';
    let error: string | undefined;
    try {
      const res = await fetch(this.opts.url, {
        method: 'POST',
        headers: {
          ...this.opts.headers,
          ...(authorization ? { Authorization: authorization } : {}),
          'Content-Type': this.opts.contentType,
        },
        body,
        signal: ctl.signal,
      });
      status = res.status;
      if (status >= 300) {
        answer = await res.text().catch(() => '');
        error = `HTTP ${status}: ${answer.slice(0, 200)}`;
      } else await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = (err as Error).cause ? String((err as Error).cause) : String(err);
    } finally {
      clearTimeout(timeout);
      this.inFlight = undefined;
    }
    if (this.stopped && status === 0) return;
    if (status === 401 || status === 403) this.opts.auth?.refused();
    const verdict = status === 0 ? 'retry' : verdictOf(status, answer);
    if (verdict === 'delivered') {
      if (this.failing > 0)
        this.opts.log.info(
          { pipeline: this.opts.pipeline, failures: this.failing },
          'GreptimeDB takes the data again; sending what was kept',
        );
      this.failing = 0;
      this.failingMeaning = '';
      this.database?.exists();
      this.remove(e);
      this.counters.sentBodies++;
      this.counters.sentItems += e.items;
      return;
    }
    this.lastError = error;
    if (verdict === 'malformed') {
      // GreptimeDB says this body itself is bad: retrying would block everything behind it.
      this.remove(e);
      this.drop(e.items, 1, 'malformed');
      const now = Date.now();
      if (now - this.lastRejectLog >= REJECT_LOG_EVERY_MS) {
        this.lastRejectLog = now;
        this.opts.log.warn(
          { pipeline: this.opts.pipeline, url: this.opts.url, error },
          'GreptimeDB refuses a body as malformed; dropped',
        );
      }
      return;
    }
    if (verdict === 'database-missing') this.database?.ensure();
    this.retryLater(failureMeaning(status, verdict), error);
  }

  /** Keep the head body (and spill the queue to disk), log at a back-off, and try again after one. */
  private retryLater(meaning: string, error: string | undefined): void {
    this.counters.failures++;
    if (this.failing === 0) for (const q of this.queue) this.spill(q);
    this.failing++;
    if (worthLogging(this.failing) || meaning !== this.failingMeaning)
      this.opts.log.warn(
        { pipeline: this.opts.pipeline, url: this.opts.url, error, failures: this.failing },
        `${meaning}; keeping the data on disk and retrying`,
      );
    this.failingMeaning = meaning;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.kick();
      },
      backoffDelay(this.failing, this.backoff),
    );
    this.retryTimer.unref();
  }

  private remove(e: Entry): void {
    const i = this.queue.indexOf(e);
    if (i >= 0) this.queue.splice(i, 1);
    this.forget(e);
  }
}
