// Every agent's own small HTTP server on `agent.port` at its node address: /metrics (Prometheus text, the
// same figures the agent writes to GreptimeDB) and /healthz. Heads serve their API on `head.port` besides.
// With the config's `tls` (the agent has its node files) it is HTTPS only, with the node certificate, as
// the head API: a scraper verifies the node against the cluster CA; plain HTTP gets a 400 saying so.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../config/schema.ts';
import { tlsFront } from '../tls/front.ts';
import type { NodeTlsFiles } from '../tls/layout.ts';

export class AgentPortInUseError extends Error {
  override name = 'AgentPortInUseError';
}

/** Where a node's agent server answers: https with the config's `tls`, else http. */
export function agentServerUrl(config: Pick<ClusterConfig, 'tls' | 'agent'>, address: string): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `${config.tls ? 'https' : 'http'}://${host}:${config.agent.port}`;
}

export interface AgentServer {
  url: string;
  stop(): Promise<void>;
}

export async function startAgentServer(
  registry: Registry,
  bind: { host: string; port: number },
  tlsFiles?: NodeTlsFiles,
): Promise<AgentServer> {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
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
  };
  // Its routes are anonymous: no client certificate is asked for.
  const tls = tlsFiles
    ? await tlsFront(tlsFiles, onRequest, { who: 'agent', clientCertificates: false })
    : undefined;
  const server: Server = tls?.app ?? createServer(onRequest);
  const listener = tls?.front ?? server;
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(new AgentPortInUseError(`agent port ${bind.port} on ${bind.host} is in use (agent.port)`));
      else reject(err);
    });
    listener.listen(bind.port, bind.host, () => resolve());
  });
  const { address, port } = listener.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    async stop() {
      server.closeAllConnections();
      if (tls) {
        server.close();
        await tls.close();
      } else await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
