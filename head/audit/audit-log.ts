// The head's audit log: one JSON line per mutating request and per exec/logs session (time, who, verb,
// object, result), appended to a file only the agent's user can read. Appends are queued and written in
// order by one writer; the queue is bounded (a record that does not fit is counted as dropped, never
// blocks a request). `read` gives the records back, filtered, for `nokube audit`.
import { createReadStream } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

export interface AuditRecord {
  /** ISO time the request was decided. */
  time: string;
  /** The token's name, `anonymous`, or a certificate's common name. */
  user: string;
  /** The token's accessor (never its secret), when a token was used. */
  accessor?: string;
  /** get/list/watch/create/update/delete/exec/logs, or the cluster-scoped right (config, nodes, acl). */
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** The gate's decision (what the handler then did is in the head's log). */
  result: 'allowed' | 'denied';
  /** Why it was denied (the 403's message). */
  reason?: string;
}

export interface AuditFilter {
  since?: Date;
  user?: string;
}

/** Records waiting for the writer at most; more are dropped (and counted). */
export const AUDIT_QUEUE_MAX = 10_000;

export class AuditLog {
  readonly file: string;
  private queue: string[] = [];
  private writing: Promise<void> | undefined;
  private droppedCount = 0;
  private failedCount = 0;
  private readonly onError: (err: Error) => void;

  constructor(file: string, onError: (err: Error) => void) {
    this.file = file;
    this.onError = onError;
  }

  /** Records lost: the queue was full, or a write failed. */
  get dropped(): number {
    return this.droppedCount + this.failedCount;
  }

  record(r: AuditRecord): void {
    if (this.queue.length >= AUDIT_QUEUE_MAX) {
      this.droppedCount++;
      return;
    }
    this.queue.push(`${JSON.stringify(r)}\n`);
    this.writing ??= this.drain();
  }

  /** Until every record queued so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await appendFile(this.file, batch.join(''), { mode: 0o600 });
        } catch (err) {
          this.failedCount += batch.length;
          this.onError(err as Error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** The records on disk, oldest first, those at or after `since` and of `user` when given. */
  async read(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    await this.flush();
    const out: AuditRecord[] = [];
    const since = filter.since?.getTime();
    try {
      const lines = createInterface({ input: createReadStream(this.file, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        const r = JSON.parse(line) as AuditRecord;
        if (since !== undefined && Date.parse(r.time) < since) continue;
        if (filter.user !== undefined && r.user !== filter.user) continue;
        out.push(r);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return out;
  }
}
