// Head services: on a head node, the optional file server (`head.fileServer`) and the GreptimeDB / Grafana
// containers the config asks this head for (`monitoring.<service>.container`). Started with the head,
// reconciled on every config change and every minute (a container someone stopped comes back).
import { join } from 'node:path';
import type { AgentContext, AgentPart } from '../../agent/context.ts';
import { shortReason } from '../../agent/store/etcd.ts';
import { startFileServer } from './file-server.ts';
import { reconcileServices, serviceSpecs } from './service-containers.ts';

const RECHECK_MS = 60_000;

export const headServicesPart: AgentPart = {
  name: 'head-services',
  async start(ctx: AgentContext) {
    if (!ctx.self().roles.includes('head')) return null;
    const log = ctx.log.child({ part: 'head-services' });

    let files: { key: string; server: Awaited<ReturnType<typeof startFileServer>> } | undefined;
    const fileServer = async () => {
      const fs = ctx.config().head.fileServer;
      const key = fs ? `${ctx.self().address}:${fs.port}:${join(ctx.self().workspace, fs.subpath)}` : '';
      if (files?.key === key) return;
      await files?.server.stop();
      files = undefined;
      if (!fs) return;
      const server = await startFileServer(join(ctx.self().workspace, fs.subpath), {
        host: ctx.self().address,
        port: fs.port,
      });
      files = { key, server };
      log.info({ url: server.url, root: join(ctx.self().workspace, fs.subpath) }, 'file server listening');
    };

    let docker: import('dockerode') | undefined;
    let chain = Promise.resolve();
    const containers = () => {
      chain = chain.then(async () => {
        const specs = serviceSpecs(ctx.config(), ctx.self());
        if (specs.length === 0 && !docker) return;
        docker ??= new (await import('dockerode')).default();
        await reconcileServices(docker, ctx.cluster, specs, log).catch((err) =>
          log.error({ err: shortReason(err) }, 'head services: could not reconcile the service containers'),
        );
      });
      return chain;
    };

    await fileServer();
    await containers();
    const onConfig = () => {
      fileServer().catch((err) => log.error({ err: String(err) }, 'file server change failed'));
      void containers();
    };
    ctx.events.on('config', onConfig);
    const timer = setInterval(() => void containers(), RECHECK_MS);
    timer.unref();
    return {
      async stop() {
        clearInterval(timer);
        ctx.events.off('config', onConfig);
        await chain;
        await files?.server.stop();
      },
    };
  },
};
