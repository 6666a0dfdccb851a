// The head's audit log: one JSON line per mutating request and per exec/logs session (time, who, verb,
// object, result), appended to a file only the agent's user can read. Appends are queued and written in
// order by one writer; the queue is bounded (a record that does not fit is counted as dropped, never
// blocks a request). The file is rotated by size (rotated-files.ts), by that same writer between two
// appends, so no record is ever cut or lost by it; the disk used is bounded by (maxFiles + 1) × maxBytes.
// `read` gives the records back, filtered, across the rotated files, for `nokube audit`.
import { appendFile, type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { listRotated, rotate } from './rotated-files.ts';

export interface AuditRecord {
  /** ISO time the request was decided. */
  time: string;
  /** The token's name, `anonymous`, or a certificate's common name. */
  user: string;
  /** The token's accessor (never its secret), when a token was used. */
  accessor?: string;
  /** The client certificate's serial number (hex), when a certificate (CN in `user`) was used. */
  certificate?: string;
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

/** When the live file is rotated and how many rotated files are kept (config `audit`). */
export interface AuditRotation {
  /** The live file is rotated before a record would take it past this size. */
  maxBytes: number;
  /** Rotated files kept (at least 1); the oldest beyond it is removed. */
  maxFiles: number;
}

/** Records waiting for the writer at most; more are dropped (and counted). */
export const AUDIT_QUEUE_MAX = 10_000;
/** Records one answer of the audit API holds at most: the newest (`--since` reaches further back). */
export const AUDIT_READ_MAX = 10_000;

export interface AuditLogOptions {
  file: string;
  /** Read at every write: a config change applies from the next record on. */
  rotation: () => AuditRotation;
  onError: (err: Error) => void;
}

export class AuditLog {
  readonly file: string;
  private readonly rotation: () => AuditRotation;
  private readonly onError: (err: Error) => void;
  private queue: string[] = [];
  private writing: Promise<void> | undefined;
  private droppedCount = 0;
  private failedCount = 0;
  /** Bytes in the live file, as the writer left it (undefined: not known, read it again). */
  private size: number | undefined;
  /** Rotation and a reader opening the files take turns: a reader never sees a rename half done. */
  private files: Promise<unknown> = Promise.resolve();

  constructor(opts: AuditLogOptions) {
    this.file = opts.file;
    this.rotation = opts.rotation;
    this.onError = opts.onError;
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

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.files.then(fn);
    this.files = run.catch(() => undefined);
    return run;
  }

  private async drain(): Promise<void> {
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.write(batch);
      }
    } catch (err) {
      this.onError(err as Error);
    } finally {
      this.writing = undefined;
    }
  }

  /** Append the lines, rotating first whenever the next one would take the live file past maxBytes. */
  private async write(lines: string[]): Promise<void> {
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const line of lines) {
      if (this.size === undefined) {
        // Unknown size (stat failed): take it as empty; the append says what is wrong.
        const found = await liveFile(this.file).catch(() => ({ size: 0, torn: false }));
        this.size = found.size;
        // A line a crash cut short is ended, so that the next record starts a line of its own.
        if (found.torn) {
          chunk.push('\n');
          chunkBytes += 1;
        }
      }
      const bytes = Buffer.byteLength(line);
      const { maxBytes } = this.rotation();
      const used = this.size + chunkBytes;
      // A record bigger than maxBytes alone still goes whole, into a file of its own.
      if (used > 0 && used + bytes > maxBytes) {
        await this.append(chunk, chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.rotateNow();
      }
      chunk.push(line);
      chunkBytes += bytes;
    }
    await this.append(chunk, chunkBytes);
  }

  private async append(lines: string[], bytes: number): Promise<void> {
    if (lines.length === 0) return;
    try {
      await appendFile(this.file, lines.join(''), { mode: 0o600 });
      this.size = (this.size ?? 0) + bytes;
    } catch (err) {
      this.failedCount += lines.length;
      // Part of it may be on disk: ask the file again.
      this.size = undefined;
      this.onError(err as Error);
    }
  }

  private async rotateNow(): Promise<void> {
    try {
      await this.exclusive(() => rotate(this.file, Math.max(1, this.rotation().maxFiles)));
      this.size = 0;
    } catch (err) {
      // Not rotated: the records keep going to the live file (bigger than asked, nothing lost).
      this.size = undefined;
      this.onError(err as Error);
    }
  }

  /** The records on disk, oldest first, those at or after `since` and of `user` when given: the rotated
   * files, then the live one. */
  async read(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    return (await this.readNewest(filter, Number.POSITIVE_INFINITY)).items;
  }

  /** As `read`, but only the newest `limit` of them (memory stays bounded however large the files);
   * `omitted` counts the older matches left out. */
  async readNewest(filter: AuditFilter, limit: number): Promise<{ items: AuditRecord[]; omitted: number }> {
    await this.flush();
    const since = filter.since?.getTime();
    // Every file opened before any is read: a rotation meanwhile renames them, but an open file is the
    // same file, so nothing is read twice or missed.
    const handles = await this.exclusive(async () => {
      const opened: FileHandle[] = [];
      try {
        for (const r of await listRotated(this.file)) {
          const h = await openIfExists(r.path);
          if (!h) continue;
          // Every record of a rotated file is older than its last write.
          if (since !== undefined && (await h.stat()).mtimeMs < since) await h.close();
          else opened.push(h);
        }
        const live = await openIfExists(this.file);
        if (live) opened.push(live);
        return opened;
      } catch (err) {
        await Promise.all(opened.map((h) => h.close()));
        throw err;
      }
    });
    let out: AuditRecord[] = [];
    let omitted = 0;
    try {
      for (const h of handles) {
        for await (const line of h.readLines({ encoding: 'utf8', autoClose: false })) {
          const r = parseRecord(line);
          if (!r) continue;
          if (since !== undefined && Date.parse(r.time) < since) continue;
          if (filter.user !== undefined && r.user !== filter.user) continue;
          out.push(r);
          // Trimmed in steps: at most twice the limit is held at any time.
          if (out.length >= 2 * limit) {
            omitted += out.length - limit;
            out = out.slice(-limit);
          }
        }
      }
    } finally {
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    }
    if (out.length > limit) {
      omitted += out.length - limit;
      out = out.slice(-limit);
    }
    return { items: out, omitted };
  }
}

/** A line cut short by a crash in the middle of an append is not a record: skipped, not fatal. */
function parseRecord(line: string): AuditRecord | undefined {
  if (!line) return undefined;
  try {
    return JSON.parse(line) as AuditRecord;
  } catch {
    return undefined;
  }
}

/** The live file's size, and whether its last line is cut short (no newline at the end). */
async function liveFile(file: string): Promise<{ size: number; torn: boolean }> {
  const h = await openIfExists(file);
  if (!h) return { size: 0, torn: false };
  try {
    const { size } = await h.stat();
    if (size === 0) return { size, torn: false };
    const last = Buffer.alloc(1);
    await h.read(last, 0, 1, size - 1);
    return { size, torn: last[0] !== 0x0a };
  } finally {
    await h.close();
  }
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
