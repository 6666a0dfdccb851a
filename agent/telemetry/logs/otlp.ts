// OTLP/HTTP protobuf encoding of log records (ExportLogsServiceRequest), as GreptimeDB's OTLP endpoint
// takes it: binary protobuf, POST <greptime>/v1/otlp/v1/logs (its documentation asks for the HTTP/protobuf
// variant of the OpenTelemetry exporters, not JSON).
//
// Why the official serializer and not the official exporter: @opentelemetry/otlp-transformer's
// ProtobufLogsSerializer is the code exporter-logs-otlp-proto itself runs, written against the
// opentelemetry-proto definitions, with no protobufjs and no file loading (it bundles into the single
// binary as plain JS). The exporter around it (OTLPLogExporter + BatchLogRecordProcessor) owns its own
// queue, retries and HTTP client: its queue drops without telling us how many per source, cannot spool to
// disk, and would be a second sender beside the shared Shipper (agent/telemetry/export/shipper.ts). So the
// pipeline does its own bounded batching and hands encoded bodies to the Shipper; only the encoding is
// borrowed. The serializer reads plain objects of the ReadableLogRecord shape; records of one source share
// their resource, scope and attributes objects, so a line costs one small object.
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';

/** [seconds, nanoseconds] since the Unix epoch (OpenTelemetry's HrTime). */
export type HrTime = [number, number];
export type LogAttributes = Record<string, string>;

/** One record as the pipeline keeps it: the ReadableLogRecord fields the serializer reads. */
export interface LogRecord {
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  severityNumber: number;
  severityText: string;
  body: string;
  /** Shared by every record of a source (and stream): never mutated. */
  attributes: LogAttributes;
  resource: Resource;
  instrumentationScope: { name: string; version?: string };
  droppedAttributesCount: 0;
}

/** OpenTelemetry severity numbers (logs data model) of the texts we use. */
export const SEVERITY = {
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
} as const;
export type SeverityText = keyof typeof SEVERITY;

export interface ResourceFacts {
  cluster: string;
  node: string;
  /** The host's name (os.hostname()). */
  host: string;
  version: string;
}

/** The resource every record of this agent carries. */
export function agentResource(f: ResourceFacts): Resource {
  return resourceFromAttributes({
    'service.name': 'nokube',
    'service.version': f.version,
    'host.name': f.host,
    cluster_name: f.cluster,
    node_name: f.node,
  });
}

export const SCOPE = { name: 'nokube.logs' } as const;

export function encodeLogs(records: readonly LogRecord[]): Uint8Array {
  return ProtobufLogsSerializer.serializeRequest(records as unknown as ReadableLogRecord[])!;
}

export function hrTimeOfMs(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** Rough size of a record in memory and on the wire: what the byte bounds count. */
export function recordBytes(r: LogRecord): number {
  return r.body.length + 64;
}
