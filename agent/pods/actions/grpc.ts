// gRPC health check (grpc.health.v1.Health/Check) on the pod IP, without TLS, as the kubelet does:
// success when the answer is SERVING. The two messages are one field each, so they are encoded here by
// hand (HealthCheckRequest{string service = 1}, HealthCheckResponse{ServingStatus status = 1}) instead of
// loading the .proto; the transport is grpc-js (etcd3's too). One channel per check, closed after it.
import { Client, credentials, status as grpcStatus, Metadata } from '@grpc/grpc-js';
import type { ProbeHandler } from '../../objects/types.ts';
import { type ActionTarget, hostPort } from './target.ts';

const METHOD = '/grpc.health.v1.Health/Check';
/** grpc.health.v1.HealthCheckResponse.ServingStatus */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const SERVING = 1;

export function grpcAction(
  target: ActionTarget,
  check: NonNullable<ProbeHandler['grpc']>,
  signal: AbortSignal,
): Promise<string | undefined> {
  const address = hostPort(target.deps.address, check.port);
  const service = check.service ?? '';
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.makeUnaryRequest(
      METHOD,
      encodeRequest,
      decodeStatus,
      service,
      new Metadata(),
      {},
      (err, status) => {
        signal.removeEventListener('abort', abort);
        client.close();
        if (err)
          resolve(`gRPC health check of ${address}: ${grpcStatus[err.code] ?? err.code}: ${err.details}`);
        else if (status === SERVING) resolve(undefined);
        else resolve(`service unhealthy (responded with "${SERVING_STATUS[status ?? 0] ?? String(status)}")`);
      },
    );
    const abort = () => call.cancel();
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

function encodeRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0);
  const bytes = Buffer.from(service, 'utf8');
  const len: number[] = [];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n <= 0x7f) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
}

/** The status field of a HealthCheckResponse (absent: 0, UNKNOWN); other fields are skipped. */
function decodeStatus(buf: Buffer): number {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= buf.length || shift > 49) throw new Error('malformed health check response');
      const b = buf[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  let status = 0;
  while (at < buf.length) {
    const tag = varint();
    const wire = tag % 8;
    if (wire === 0) {
      const v = varint();
      if (tag === 8) status = v;
    } else if (wire === 2) at += varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error('malformed health check response');
  }
  return status;
}
