// The image pre-pull part of every agent: follows `image-pulls/<node>/` (the shared informer, one watch),
// hands the requests to the puller, and writes the node status (`node-status/<node>`) it reports, one
// write at a time (the latest wins; retried while etcd is away). It runs with the engine away too: the
// node record says this agent pre-pulls, so the controllers wait for its status; pulls then fail (and
// are retried), which keeps the old pods as they are.
import type Docker from 'dockerode';
import { podNetworkOf } from '../config/schema.ts';
import type { AgentContext, AgentPart } from '../context.ts';
import { imagePresent, pullImage } from '../runtime/images.ts';
import { shortReason } from '../store/etcd.ts';
import { jsonInformer } from '../store/informer/cluster.ts';
import { keys } from '../store/keys.ts';
import { ImageGC } from './image-gc.ts';
import { imagePullCounter } from './pull-metrics.ts';
import type { ImagePullRequest, NodeStatus } from './pull-requests.ts';
import { type ImageEngine, ImagePuller } from './puller.ts';

const WRITE_RETRY_MS = 5000;

export const imagePullPart: AgentPart = {
  name: 'image-pulls',
  async start(ctx: AgentContext) {
    const writer = statusWriter(ctx);
    const countPull = imagePullCounter(ctx.metrics);
    const gc = new ImageGC({
      docker: ctx.docker,
      workspace: ctx.self().workspace,
      cluster: ctx.cluster,
      config: () => ctx.self().imageGC,
      keep: () => [
        ...puller.wantedImages(),
        ...(ctx.handles.podActors.get()?.images() ?? []),
        ...(podNetworkOf(ctx.config()) ? [podNetworkOf(ctx.config())!.sandboxImage] : []),
      ],
      podsKnown: () => ctx.handles.podActors.get() !== undefined,
      log: ctx.log.child({ part: 'image-gc' }),
      metrics: ctx.metrics,
    });
    const puller: ImagePuller = new ImagePuller({
      engine: dockerEngine(ctx.docker),
      report: writer.put,
      log: ctx.log,
      counted: (image, result) => {
        countPull(image, result);
        if (result === 'pulled') gc.kick(); // the disk just grew
      },
    });
    // New thresholds apply at once.
    const onConfig = () => gc.kick();
    ctx.events.on('config', onConfig);
    void puller.start(); // not waited for: an engine that does not answer would hold the agent's start
    const lease = jsonInformer<ImagePullRequest>(
      ctx.etcd,
      keys.imagePullsOf(ctx.cluster, ctx.nodeName),
      ctx.log,
    );
    const changed = () =>
      puller.requests(
        lease.informer.entries().map(([, e]) => ({ request: e.value, modRevision: e.modRevision })),
      );
    // The collection starts once the requests are known (an image one asks for is never collected); with
    // etcd away from the start, it waits.
    const listed = () => {
      changed();
      gc.start();
    };
    const off = lease.informer.on({ add: changed, update: changed, delete: changed, listed });
    return {
      async stop() {
        off();
        ctx.events.off('config', onConfig);
        gc.stop();
        puller.stop();
        writer.stop();
        await lease.release();
      },
    };
  },
};

export function dockerEngine(docker: Docker): ImageEngine {
  return {
    present: (image) => imagePresent(docker, image),
    pull: (image, signal) => pullImage(docker, image, signal),
    list: async () =>
      (await docker.listImages()).map((i) => ({
        names: [...(i.RepoDigests ?? []), ...(i.RepoTags ?? [])].filter((n) => !n.includes('<none>')),
        sizeBytes: i.Size,
      })),
  };
}

/** One write in flight; a newer status replaces a waiting one; a failed write is tried again. */
function statusWriter(ctx: AgentContext): { put(s: NodeStatus): void; stop(): void } {
  const key = keys.nodeStatus(ctx.cluster, ctx.nodeName);
  let next: string | undefined;
  let last: string | undefined;
  let busy = false;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const flush = async () => {
    if (busy || stopped) return;
    busy = true;
    while (next !== undefined && next !== last && !stopped) {
      const text = next;
      try {
        await ctx.etcd.put(key).value(text);
        last = text;
      } catch (err) {
        ctx.log.debug({ err: shortReason(err) }, 'node status write failed; trying again');
        retry = setTimeout(() => void flush(), WRITE_RETRY_MS);
        retry.unref();
        break;
      }
    }
    busy = false;
  };
  return {
    put(s) {
      next = JSON.stringify(s);
      void flush();
    },
    stop() {
      stopped = true;
      clearTimeout(retry);
    },
  };
}
