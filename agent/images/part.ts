// The image pre-pull part of every agent: follows `image-pulls/<node>/` (the shared informer, one watch),
// hands the requests to the puller, and writes the node status (`node-status/<node>`) it reports, one
// write at a time (the latest wins; retried while etcd is away). It runs with the engine away too: the
// node record says this agent pre-pulls, so the controllers wait for its status; pulls then fail (and
// are retried), which keeps the old pods as they are.
import { join } from 'node:path';
import type Docker from 'dockerode';
import { podNetworkOf } from '../config/schema.ts';
import type { AgentContext, AgentPart } from '../context.ts';
import { parseQuantity } from '../objects/quantity.ts';
import type { Secret } from '../objects/types.ts';
import { imagePresent, pullImage } from '../runtime/images.ts';
import { shortReason } from '../store/etcd.ts';
import { jsonInformer } from '../store/informer/cluster.ts';
import { keys } from '../store/keys.ts';
import { ImageGC } from './image-gc.ts';
import { Bandwidth } from './peers/bandwidth.ts';
import { ImageFetcher } from './peers/fetcher.ts';
import { ImageSpool } from './peers/spool.ts';
import { IMAGE_PROTOCOL, serveImage, sweepParts } from './peers/transfer.ts';
import { imageFetchCounters, imagePullCounter } from './pull-metrics.ts';
import type { ImagePullRequest, NodeStatus } from './pull-requests.ts';
import { type ImageEngine, ImagePuller } from './puller.ts';
import { credentialsFor } from './registry-auth.ts';

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
    // Images from peers (agent/images/peers): served over the mesh, fetched from the site's holders.
    const workspace = ctx.self().workspace;
    const bandwidth = new Bandwidth(bytesPerSecond(ctx.self().imageBandwidth));
    const counters = imageFetchCounters(ctx.metrics);
    const spool = new ImageSpool(ctx.docker, join(workspace, 'images', 'spool'));
    const parts = join(workspace, 'images', 'parts');
    // Parts of transfers nobody resumed for a day (the image no longer wanted, or pulled another way).
    void sweepParts(parts, PART_MAX_AGE_MS).then(
      (n) => n > 0 && ctx.log.info({ files: n }, 'stale image transfer parts removed'),
      () => undefined,
    );
    const fetcher = new ImageFetcher({
      etcd: ctx.etcd,
      cluster: ctx.cluster,
      node: ctx.nodeName,
      docker: ctx.docker,
      config: ctx.config,
      self: ctx.self,
      member: (name) => ctx.mesh.table.get(name),
      transfer: {
        docker: ctx.docker,
        dir: parts,
        bandwidth,
        counts: counters,
        openStream: (peer, signal) => ctx.mesh.openStream(peer, IMAGE_PROTOCOL, signal),
        log: ctx.log,
      },
      log: ctx.log,
      fetched: (_image, source) => {
        counters.fetched(source);
        puller.imagesChanged();
        gc.kick();
      },
    });
    const serving = new Set<AbortController>();
    await ctx.mesh.handle(
      IMAGE_PROTOCOL,
      (stream, from) => {
        const abort = new AbortController();
        serving.add(abort);
        serveImage(stream, { spool, bandwidth, counts: counters, log: ctx.log, signal: abort.signal })
          .catch((err) => ctx.log.debug({ err: String(err), from }, 'serving an image to a peer failed'))
          .finally(() => serving.delete(abort));
      },
      MAX_SERVING,
    );
    const withdrawFetcher = ctx.handles.imageFetcher.publish(fetcher);
    const puller: ImagePuller = new ImagePuller({
      engine: dockerEngine(ctx.docker, fetcher, (ns, name) => ctx.handles.podActors.get()?.secret(ns, name)),
      report: writer.put,
      log: ctx.log,
      counted: (image, result) => {
        countPull(image, result);
        if (result === 'pulled') gc.kick(); // the disk just grew
      },
    });
    // New thresholds and caps apply at once.
    const onConfig = () => {
      bandwidth.setRate(bytesPerSecond(ctx.self().imageBandwidth));
      gc.kick();
    };
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
        withdrawFetcher();
        for (const a of serving) a.abort();
        fetcher.stop();
        gc.stop();
        puller.stop();
        writer.stop();
        await lease.release();
      },
    };
  },
};

/** A transfer part not written for this long is removed at the agent's start. */
const PART_MAX_AGE_MS = 24 * 3600_000;

/** Images served to peers at once at most. */
const MAX_SERVING = 4;

const bytesPerSecond = (q: string | undefined) => (q === undefined ? undefined : parseQuantity(q));

/** `secret`: a Secret this agent holds (the pods part's, as for its pods' imagePullSecrets). */
export function dockerEngine(
  docker: Docker,
  fetcher?: ImageFetcher,
  secret?: (namespace: string, name: string) => Secret | undefined,
): ImageEngine {
  return {
    present: (image) => imagePresent(docker, image),
    pull: async (image, signal, policy, secrets) => {
      const held = secrets.flatMap(({ namespace, name }) => secret?.(namespace, name) ?? []);
      const auths = credentialsFor(image, held);
      if (fetcher) await fetcher.pull(image, signal, policy, auths);
      else await pullImage(docker, image, signal, auths);
    },
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
