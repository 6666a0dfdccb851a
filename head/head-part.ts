// The head: an agent part that serves the HTTP API on nodes with the head role.
import type { AgentPart } from '../agent/context.ts';
import { kubecontrollerPart } from './controllers/kubecontroller.ts';
import { headServicesPart } from './services/part.ts';

export const headPart: AgentPart = {
  name: 'head',
  async start(ctx) {
    const self = ctx.self();
    if (!self.roles.includes('head')) return null;
    const { startHeadServer } = await import('./api/server.ts');
    const server = await startHeadServer(ctx, ctx.metrics, {
      host: self.address,
      port: ctx.config().head.port,
    });
    ctx.log.info({ url: server.url }, 'head API listening');
    return server;
  },
};

/** Every part a head binary adds to the agent (each decides itself whether it runs on this node). */
export const headParts: AgentPart[] = [headPart, headServicesPart, kubecontrollerPart];
