// The head: an agent part that serves the HTTP API on nodes with the head role.
import type { AgentContext, AgentPart } from '../agent/context.ts';

const isHead = (ctx: AgentContext) => ctx.self().roles.includes('head');

export const headPart: AgentPart = {
  name: 'head',
  async start(ctx) {
    if (!isHead(ctx)) return null;
    const self = ctx.self();
    const { startHeadServer } = await import('./api/server.ts');
    const server = await startHeadServer(ctx, ctx.metrics, {
      host: self.address,
      port: ctx.config().head.port,
    });
    ctx.log.info({ url: server.url }, 'head API listening');
    return server;
  },
};

/** A part whose modules are evaluated only on a node with the head role: a worker never loads the
 * controllers, the dashboards or the service containers' code (each part checks the role again). */
function onHeads(name: string, load: () => Promise<AgentPart>): AgentPart {
  return { name, start: async (ctx) => (isHead(ctx) ? (await load()).start(ctx) : null) };
}

/** Every part a head binary adds to the agent (each decides itself whether it runs on this node). */
export const headParts: AgentPart[] = [
  headPart,
  onHeads('head-services', async () => (await import('./services/part.ts')).headServicesPart),
  onHeads('kubecontroller', async () => (await import('./controllers/kubecontroller.ts')).kubecontrollerPart),
];
