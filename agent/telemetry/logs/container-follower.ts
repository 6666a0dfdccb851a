// One running container's stdout/stderr, followed through Docker's logs API with timestamps, into its own
// bounded buffer. Starts after `since` (the last line shipped before: Docker's `since` is inclusive, so
// lines at or before it are skipped). When the buffer is full the Docker stream is paused (Docker keeps
// the lines in its log file) and resumed when the pipeline has taken half; lines that still arrive
// while full are dropped and counted. The stream ends by itself when the container stops.
import type { Readable } from 'node:stream';
import type { Resource } from '@opentelemetry/resources';
import type Docker from 'dockerode';
import { DockerLogParser, dockerSince, hrBefore, type StreamName } from './docker-log-parser.ts';
import { type HrTime, hrTimeOfMs, type LogAttributes, type LogRecord, SCOPE, SEVERITY } from './otlp.ts';
import type { LogSource } from './pipeline.ts';
import { type BufferBounds, RecordBuffer } from './record-buffer.ts';
import { detectSeverity } from './severity.ts';

export interface ContainerRef {
  id: string;
  namespace: string;
  pod: string;
  container: string;
}

export interface FollowerDeps {
  docker: Docker;
  cluster: string;
  node: string;
  resource: Resource;
  bounds: BufferBounds;
  /** The buffer got records (the pipeline ships when a batch is full). */
  notify(source: LogSource): void;
  /** A line of this container went out: its time is the container's new cursor. */
  shipped(id: string, time: HrTime): void;
  ended(follower: ContainerFollower, err?: unknown): void;
  /** Without a cursor, a container created before this time is read from its last `bounds.maxRecords`
   * lines only (what was already there when the export started is not all replayed). */
  exportStartedMs: number;
}

export class ContainerFollower implements LogSource {
  readonly ref: ContainerRef;
  readonly buffer: RecordBuffer;
  private readonly deps: FollowerDeps;
  private readonly attrs: Record<StreamName, LogAttributes>;
  private stream: Readable | undefined;
  private stopped = false;
  private paused = false;
  /** Skip lines at or before this time (Docker's `since` includes them). */
  private after: HrTime | undefined;

  constructor(ref: ContainerRef, deps: FollowerDeps, after: HrTime | undefined) {
    this.ref = ref;
    this.deps = deps;
    this.buffer = new RecordBuffer(deps.bounds);
    this.after = after;
    const base = {
      cluster_name: deps.cluster,
      node_name: deps.node,
      source: 'container',
      source_id: `${ref.namespace}/${ref.pod}/${ref.container}`,
      namespace: ref.namespace,
      pod: ref.pod,
      container: ref.container,
    };
    this.attrs = { stdout: { ...base, stream: 'stdout' }, stderr: { ...base, stream: 'stderr' } };
  }

  async start(): Promise<void> {
    try {
      const c = this.deps.docker.getContainer(this.ref.id);
      const info = await c.inspect();
      if (this.stopped) return;
      const stream = (await c.logs({
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        ...(this.after
          ? { since: dockerSince(this.after) as unknown as number }
          : Date.parse(info.Created) < this.deps.exportStartedMs
            ? { tail: this.deps.bounds.maxRecords }
            : {}),
      })) as unknown as Readable;
      this.stream = stream;
      if (this.stopped) {
        stream.destroy();
        return;
      }
      let observed: HrTime = hrTimeOfMs(Date.now());
      const parser = new DockerLogParser(!info.Config.Tty, (which, time, text) => {
        if (this.after) {
          if (!hrBefore(this.after, time)) return;
          this.after = undefined;
        }
        const severity = detectSeverity(text) ?? (which === 'stderr' ? 'ERROR' : 'INFO');
        this.buffer.push({
          hrTime: time,
          hrTimeObserved: observed,
          severityNumber: SEVERITY[severity],
          severityText: severity,
          body: text,
          attributes: this.attrs[which],
          resource: this.deps.resource,
          instrumentationScope: SCOPE,
          droppedAttributesCount: 0,
        } satisfies LogRecord);
      });
      stream.on('data', (chunk: Buffer) => {
        observed = hrTimeOfMs(Date.now());
        parser.push(chunk);
        if (this.buffer.full && !this.paused) {
          this.paused = true;
          stream.pause();
        }
        this.deps.notify(this);
      });
      await new Promise<void>((resolve, reject) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', reject);
      });
      parser.end();
      this.deps.ended(this);
    } catch (err) {
      this.deps.ended(this, this.stopped ? undefined : err);
    }
  }

  shipped(last: LogRecord): void {
    this.deps.shipped(this.ref.id, last.hrTime);
  }

  drained(): void {
    const { maxRecords, maxBytes } = this.deps.bounds;
    if (this.paused && this.buffer.length * 2 <= maxRecords && this.buffer.queuedBytes * 2 <= maxBytes) {
      this.paused = false;
      this.stream?.resume();
    }
  }

  stop(): void {
    this.stopped = true;
    this.stream?.destroy();
  }
}
