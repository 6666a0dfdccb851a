// The head: an agent part that serves the HTTP API on nodes with the head role.
import type { AgentPart } from '../agent/agent.ts';
import { createAgentMetrics } from '../agent/telemetry/agent-metrics.ts';
import { startHeadServer } from './api/server.ts';

export const headPart: AgentPart = {
  name: 'head',
  async start(ctx) {
    const self = ctx.self();
    if (!self.roles.includes('head')) return null;
    const server = await startHeadServer(ctx, createAgentMetrics(ctx), {
      host: self.address,
      port: ctx.config().head.port,
    });
    ctx.log.info({ url: server.url }, 'head API listening');
    return server;
  },
};
