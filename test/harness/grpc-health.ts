// A grpc.health.v1 Health server for tests (probes.test.ts, probes-docker.test.ts), its messages
// encoded by hand as the agent's client does (HealthCheckRequest{service = 1},
// HealthCheckResponse{status = 1}); `set` says what a service answers, an unknown one is NOT_FOUND.
import {
  status as grpcStatus,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';

/** A grpc.health.v1 server (hand-encoded messages, as the agent's client). */
export async function healthServer(host = '127.0.0.1', listenPort = 0) {
  const statuses = new Map<string, number>();
  const server = new Server();
  server.addService(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (r: { service: string }) => Buffer.from(r.service),
        // An object: grpc-js takes a falsy request (the empty service '') for none.
        requestDeserialize: (b: Buffer) => ({
          service: b.length === 0 ? '' : b.subarray(2, 2 + b[1]!).toString(),
        }),
        responseSerialize: (status: number) => Buffer.from([0x08, status]),
        responseDeserialize: (b: Buffer) => b[1]!,
      },
    },
    {
      Check: (call: ServerUnaryCall<{ service: string }, number>, callback: sendUnaryData<number>) => {
        const status = statuses.get(call.request.service);
        if (status === undefined)
          callback({ code: grpcStatus.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else callback(null, status);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${listenPort}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port, set: (service: string, status: number) => statuses.set(service, status) };
}
