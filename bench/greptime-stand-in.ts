// A receiver on loopback that plays GreptimeDB for the benches (GreptimeDB cannot run on this machine):
// 204 to remote write and SQL, 200 to OTLP logs, whose bodies go to `onLogs`. It counts what it got.
import { createServer } from 'node:http';

export interface StandIn {
  /** Bodies received: remote write (and anything else but logs), OTLP logs. */
  received: { metricBodies: number; logBodies: number };
  /** The `monitoring:` section that sends an agent's metrics every `intervalSeconds` here. */
  monitoring(intervalSeconds: number): string;
  close(): Promise<void>;
}

export async function startGreptimeStandIn(port: number, onLogs?: (body: Buffer) => void): Promise<StandIn> {
  const received = { metricBodies: 0, logBodies: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/v1/otlp/v1/logs')) {
        received.logBodies++;
        onLogs?.(Buffer.concat(chunks));
        res.writeHead(200).end();
      } else {
        received.metricBodies++;
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    received,
    monitoring: (interval) =>
      `monitoring:\n  metricsIntervalSeconds: ${interval}\n  greptimedb:\n    address: 127.0.0.1\n    httpPort: ${port}\n    db: public\n  grafana:\n    address: 127.0.0.1\n    port: ${port}\n`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
