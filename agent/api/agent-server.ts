// Every agent's own small HTTP server on `agent.port` at its node address: /metrics (Prometheus text, the
// same figures the agent writes to GreptimeDB) and /healthz. Heads serve their API on `head.port` besides.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export class AgentPortInUseError extends Error {
  override name = 'AgentPortInUseError';
}

export interface AgentServer {
  url: string;
  stop(): Promise<void>;
}

export async function startAgentServer(
  registry: Registry,
  bind: { host: string; port: number },
): Promise<AgentServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end(`${req.method} not allowed\n`);
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no route ${path}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(new AgentPortInUseError(`agent port ${bind.port} on ${bind.host} is in use (agent.port)`));
      else reject(err);
    });
    server.listen(bind.port, bind.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
