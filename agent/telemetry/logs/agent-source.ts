// The agent's own pino logs as OTLP records (source=agent, source_id=<node>): pino's level becomes the
// severity, `msg` the body, `time` the timestamp, other fields attributes (objects as JSON). A head's audit
// records (a line with an `audit` field: head/api/server.ts) go as source=audit.
import type { Resource } from '@opentelemetry/resources';
import { logTap } from '../../log/logger.ts';
import { hrTimeOfMs, type LogAttributes, type LogRecord, SCOPE, SEVERITY } from './otlp.ts';
import type { LogSource } from './pipeline.ts';
import { type BufferBounds, RecordBuffer } from './record-buffer.ts';
import { pinoLevel } from './severity.ts';

/** Fields pino adds to every line that are not worth a column. */
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node']);

export class AgentLogSource implements LogSource {
  readonly buffer: RecordBuffer;
  private readonly base: LogAttributes;
  private readonly resource: Resource;
  private readonly notify: (s: LogSource) => void;

  constructor(opts: {
    cluster: string;
    node: string;
    resource: Resource;
    bounds: BufferBounds;
    notify(s: LogSource): void;
  }) {
    this.buffer = new RecordBuffer(opts.bounds);
    this.resource = opts.resource;
    this.notify = opts.notify;
    this.base = { cluster_name: opts.cluster, node_name: opts.node, source: 'agent', source_id: opts.node };
  }

  /** Take the agent's log lines from now on (replacing any earlier source). */
  attach(): void {
    logTap.sink = (line) => this.onLine(line);
  }

  detach(): void {
    if (logTap.sink) logTap.sink = undefined;
  }

  private onLine(line: string): void {
    if (this.buffer.full) {
      this.buffer.dropped++;
      return;
    }
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const now = Date.now();
    const at = typeof o.time === 'string' ? Date.parse(o.time) : typeof o.time === 'number' ? o.time : now;
    const severity = pinoLevel(typeof o.level === 'number' ? o.level : 30);
    const attributes: LogAttributes = {};
    for (const [k, v] of Object.entries(o))
      if (!SKIP.has(k) && v !== undefined) attributes[k] = typeof v === 'string' ? v : JSON.stringify(v);
    Object.assign(attributes, this.base);
    if (o.audit !== undefined) attributes.source = 'audit';
    this.buffer.push({
      hrTime: hrTimeOfMs(Number.isNaN(at) ? now : at),
      hrTimeObserved: hrTimeOfMs(now),
      severityNumber: SEVERITY[severity],
      severityText: severity,
      body: typeof o.msg === 'string' ? o.msg : '',
      attributes,
      resource: this.resource,
      instrumentationScope: SCOPE,
      droppedAttributesCount: 0,
    } satisfies LogRecord);
    this.notify(this);
  }
}
