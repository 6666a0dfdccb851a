// Every running container of this node's pods gets one ContainerFollower: found by a listing at start,
// Docker 'start' events (filtered by our labels) and a re-list every 10 s (events missed while the
// stream reconnects). A follower ends with its container; a restart of the container starts a new one
// from the cursor.

import type { Resource } from '@opentelemetry/resources';
import type Docker from 'dockerode';
import type { Logger } from '../../log/logger.ts';
import { watchDockerEvents } from '../../runtime/docker-events.ts';
import { LABEL, podContainers } from '../../runtime/labels.ts';
import { ContainerFollower, type ContainerRef } from './container-follower.ts';
import { LogCursors } from './log-cursors.ts';
import type { LogPipeline } from './pipeline.ts';
import type { BufferBounds } from './record-buffer.ts';

const RELIST_MS = 10_000;

export interface ContainerLogsOptions {
  docker: Docker;
  cluster: string;
  node: string;
  workspace: string;
  resource: Resource;
  pipeline: LogPipeline;
  bounds: BufferBounds;
  log: Logger;
}

export class ContainerLogs {
  private readonly o: ContainerLogsOptions;
  private readonly followers = new Map<string, ContainerFollower>();
  private readonly cursors: LogCursors;
  /** Stopped containers read to their end since this start (not read again until they start). */
  private readonly finished = new Set<string>();
  private events: { stop(): void } | undefined;
  private relist: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(o: ContainerLogsOptions) {
    this.o = o;
    this.cursors = new LogCursors(o.workspace);
  }

  private exportStartedMs = 0;

  async start(): Promise<void> {
    this.exportStartedMs = Date.now();
    await this.cursors.load();
    this.watchEvents();
    await this.sync();
    this.relist = setInterval(() => void this.sync(), RELIST_MS);
  }

  /** Followers stop; what their buffers hold is shipped; cursors are saved. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.relist);
    this.events?.stop();
    for (const f of this.followers.values()) {
      f.stop();
      this.o.pipeline.remove(f);
    }
    this.followers.clear();
    await this.cursors.save();
  }

  count(): number {
    return this.followers.size;
  }

  private syncing = false;
  private syncAgain = false;

  /** List our containers and follow the running ones; calls during a listing run one more after it. */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    try {
      await this.listAndFollow();
    } finally {
      this.syncing = false;
    }
    if (this.syncAgain) {
      this.syncAgain = false;
      await this.sync();
    }
  }

  private async listAndFollow(): Promise<void> {
    let list: Docker.ContainerInfo[];
    try {
      list = await this.o.docker.listContainers({
        all: true,
        filters: podContainers(this.o.cluster, this.o.node),
      });
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'container logs: listing containers failed');
      return;
    }
    if (this.stopped) return;
    const ids = new Set(list.map((c) => c.Id));
    this.cursors.keepOnly(ids);
    for (const id of this.finished) if (!ids.has(id)) this.finished.delete(id);
    for (const c of list) {
      if (c.State === 'running') this.follow(c.Id, c.Labels);
      // Stopped while nobody followed it (the agent was down): its last lines, once.
      else if (this.cursors.get(c.Id) && !this.finished.has(c.Id)) this.follow(c.Id, c.Labels, true);
    }
  }

  private follow(id: string, labels: Record<string, string>, once = false): void {
    if (this.stopped || this.followers.has(id)) return;
    if (!once) this.finished.delete(id);
    const ref: ContainerRef = {
      id,
      namespace: labels[LABEL.namespace] ?? '',
      pod: labels[LABEL.pod] ?? '',
      container: labels[LABEL.container] ?? '',
    };
    const { pipeline } = this.o;
    const f = new ContainerFollower(
      ref,
      {
        docker: this.o.docker,
        cluster: this.o.cluster,
        node: this.o.node,
        resource: this.o.resource,
        bounds: this.o.bounds,
        exportStartedMs: this.exportStartedMs,
        notify: (s) => pipeline.notify(s),
        shipped: (cid, t) => this.cursors.set(cid, t),
        ended: (done, err) => {
          if (err)
            this.o.log.warn(
              { err: String(err), container: id.slice(0, 12) },
              'container logs: follow failed',
            );
          if (this.followers.get(id) !== done) return;
          this.followers.delete(id);
          pipeline.remove(done);
          if (once && !err) this.finished.add(id);
          // Restarted before this follower saw its end? The listing finds it running again.
          void this.sync();
        },
      },
      this.cursors.get(id),
    );
    this.followers.set(id, f);
    pipeline.add(f);
    void f.start();
  }

  private watchEvents(): void {
    this.events = watchDockerEvents(
      this.o.docker,
      { type: ['container'], event: ['start'], ...podContainers(this.o.cluster, this.o.node) },
      (ev) => {
        const id = ev.Actor?.ID ?? ev.id;
        if (id) this.follow(id, ev.Actor?.Attributes ?? {});
      },
    );
  }
}
