// Per container, the time of the latest log line handed to the Shipper: where a follower resumes after the
// container restarts or the agent does (no line twice, none skipped; Docker's `since` is a time, so a
// stdout and a stderr line stored out of time order across that instant are the one exception). On disk at
// <workspace>/agent/log-cursors.json, written atomically at most once a second and at stop.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HrTime } from './otlp.ts';

export class LogCursors {
  private readonly path: string;
  private readonly times = new Map<string, HrTime>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(workspace: string) {
    this.path = join(workspace, 'agent', 'log-cursors.json');
  }

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      for (const [id, t] of Object.entries(JSON.parse(text) as Record<string, HrTime>))
        if (Array.isArray(t) && t.length === 2) this.times.set(id, [Number(t[0]), Number(t[1])]);
    } catch {
      // A torn file cannot happen (rename); a foreign one means starting over: lines may repeat.
    }
  }

  get(id: string): HrTime | undefined {
    return this.times.get(id);
  }

  /** Advance (never move back: Docker's stdout and stderr copiers may store lines slightly out of order). */
  set(id: string, t: HrTime): void {
    const was = this.times.get(id);
    if (was && (was[0] > t[0] || (was[0] === t[0] && was[1] >= t[1]))) return;
    this.times.set(id, t);
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, 1000);
  }

  /** Forget containers that no longer exist. */
  keepOnly(ids: Set<string>): void {
    for (const id of this.times.keys())
      if (!ids.has(id)) {
        this.times.delete(id);
        this.dirty = true;
      }
  }

  async save(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return this.writing;
    this.dirty = false;
    const text = JSON.stringify(Object.fromEntries(this.times));
    this.writing = this.writing.then(async () => {
      await mkdir(join(this.path, '..'), { recursive: true });
      await writeFile(`${this.path}.tmp`, text);
      await rename(`${this.path}.tmp`, this.path);
    });
    return this.writing;
  }
}
