// Creates a pipeline's GreptimeDB database when it is missing: `CREATE DATABASE IF NOT EXISTS` through
// GreptimeDB's HTTP SQL API (POST /v1/sql, form field `sql`; 200 with `{"output": [{"affectedrows": 1}]}`,
// an error status with `{"code", "error"}` otherwise: src/servers/src/http/handler.rs and
// result/error_result.rs). Nothing writes into a database GreptimeDB does not have: every batch would be
// answered 400 (see greptime.ts).
//
// Asked once when its Shipper starts and again when a write says the database is missing; off the hot
// path (one request at a time, in the background, nothing waits for it). A failure is retried with
// back-off until it succeeds or a write goes through (the database exists after all: a user without the
// right to create databases may still write into one made for it), and logged at a back-off.
import type { Logger } from '../../log/logger.ts';
import { type Backoff, backoffDelay, DEFAULT_BACKOFF, worthLogging } from './backoff.ts';
import type { BasicAuth } from './basic-auth.ts';
import { createDatabaseSql } from './greptime.ts';

export interface DatabaseOptions {
  /** `http://<greptimedb>:<httpPort>/v1/sql`. */
  sqlUrl: string;
  name: string;
}

export interface CreatorOptions extends DatabaseOptions {
  pipeline: string;
  auth?: BasicAuth;
  log: Logger;
  backoff?: Backoff;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class DatabaseCreator {
  private readonly opts: CreatorOptions;
  private inFlight: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(opts: CreatorOptions) {
    this.opts = opts;
  }

  /** Create the database unless a creation is under way or waiting for its next try. */
  ensure(): void {
    if (this.stopped || this.inFlight || this.retryTimer) return;
    void this.create();
  }

  /** A write went through: the database exists, stop retrying. */
  exists(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.failures = 0;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.inFlight?.abort();
  }

  private async create(): Promise<void> {
    const ctl = new AbortController();
    this.inFlight = ctl;
    const timeout = setTimeout(() => ctl.abort(), this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let error: string | undefined;
    try {
      const authorization = await this.opts.auth?.authorization();
      const res = await fetch(this.opts.sqlUrl, {
        method: 'POST',
        headers: {
          ...(authorization ? { Authorization: authorization } : {}),
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ sql: createDatabaseSql(this.opts.name) }),
        signal: ctl.signal,
      });
      const text = await res.text().catch(() => '');
      if (res.status === 401 || res.status === 403) this.opts.auth?.refused();
      if (!res.ok) error = `HTTP ${res.status}: ${text.slice(0, 200)}`;
    } catch (err) {
      error = (err as Error).cause ? String((err as Error).cause) : String(err);
    } finally {
      clearTimeout(timeout);
      this.inFlight = undefined;
    }
    if (this.stopped) return;
    const { log, pipeline, name } = this.opts;
    if (error === undefined) {
      this.failures = 0;
      log.info({ pipeline, db: name }, 'GreptimeDB database ensured (CREATE DATABASE IF NOT EXISTS)');
      return;
    }
    this.failures++;
    if (worthLogging(this.failures))
      log.warn(
        { pipeline, db: name, url: this.opts.sqlUrl, error, failures: this.failures },
        'cannot create the GreptimeDB database; retrying',
      );
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.ensure();
      },
      backoffDelay(this.failures, this.opts.backoff ?? DEFAULT_BACKOFF),
    );
    this.retryTimer.unref();
  }
}
