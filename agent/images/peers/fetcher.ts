// Where an agent gets an image (README "Images from peers"): from a peer of its site that holds it (over the
// mesh: transfer.ts), else over the site's uplink from the registry — by one node of the site at a time
// and image: the one whose claim `image-sources/<site>/<hash>` (etcd, created only if absent, under a lease
// of this agent: gone with it) is in; the others wait until its node status lists the image (or its claim
// goes) and then fetch it from it. The site is the node label `images.siteLabel` names (nodes without it
// are one site). Straight to the registry: `images.peers: false`, a reference by digest (a save and load
// keeps no registry digest), and pull policy Always (the registry says what the tag is now).
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import type { Etcd3, Lease } from 'etcd3';
import type { ClusterConfig, NodeConfig } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import type { Member } from '../../mesh/member-table.ts';
import { pullImage } from '../../runtime/images.ts';
import { shortReason } from '../../store/etcd.ts';
import { keys } from '../../store/keys.ts';
import { listNodes } from '../../store/node-registry.ts';
import { normalizeRef } from '../image-gc.ts';
import type { NodeStatus, PullPolicy } from '../pull-requests.ts';
import type { RegistryAuth } from '../registry-auth.ts';
import { dropPart, type FetchDeps, fetchImage } from './transfer.ts';

/** A claim outlives its agent by at most this long. */
export const CLAIM_TTL_SECONDS = 15;
/** How often a node waiting for another's uplink fetch looks again. */
const WAIT_POLL_MS = 1000;
/** Fetches from one peer before the next holder (or the uplink) is tried, PEER_RETRY_MS apart. */
const PEER_ATTEMPTS = 5;
const PEER_RETRY_MS = 2000;
/** How long a peer whose link dropped is waited for to be alive again. */
const PEER_WAIT_MS = 30_000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export type FetchSource = 'peer' | 'registry';

/** etcd did not answer a read or write of the site's holders or claims. */
class SiteUnavailable extends Error {
  constructor(cause: unknown) {
    super('etcd unavailable', { cause });
  }
}

export interface FetcherDeps {
  etcd: Etcd3;
  cluster: string;
  node: string;
  docker: Docker;
  config(): ClusterConfig;
  self(): NodeConfig;
  member(name: string): Member | undefined;
  transfer: FetchDeps;
  log: Logger;
  /** An image came (where from): counted, and the node status says it holds it. */
  fetched(image: string, source: FetchSource): void;
}

export class ImageFetcher {
  private readonly deps: FetcherDeps;
  private lease: Lease | undefined;

  constructor(deps: FetcherDeps) {
    this.deps = deps;
  }

  stop(): void {
    const lease = this.lease;
    this.lease = undefined;
    void lease?.revoke().catch(() => undefined);
  }

  /** The image in the engine, from a peer or the registry. With etcd away (holders and claims are read
   * and written there), straight from the registry: a node cut off keeps pulling for its pods. */
  async pull(
    image: string,
    signal: AbortSignal,
    policy: PullPolicy = 'IfNotPresent',
    auths: readonly RegistryAuth[] = [],
  ): Promise<FetchSource> {
    const { config } = this.deps;
    if (!config().images.peers || image.includes('@') || policy === 'Always')
      return this.fromRegistry(image, signal, auths);
    try {
      return await this.throughSite(image, signal, auths);
    } catch (err) {
      if (signal.aborted || !(err instanceof SiteUnavailable)) throw err;
      this.deps.log.info(
        { image, err: shortReason(err.cause) },
        'etcd does not answer: pulling from the registry',
      );
      return this.fromRegistry(image, signal, auths);
    }
  }

  private async throughSite(
    image: string,
    signal: AbortSignal,
    auths: readonly RegistryAuth[],
  ): Promise<FetchSource> {
    const site = this.siteOf(this.deps.self().labels);
    const hash = createHash('sha256').update(normalizeRef(image)).digest('hex');
    const key = keys.imageSource(this.deps.cluster, site, hash);
    for (;;) {
      signal.throwIfAborted();
      for (const peer of await this.holders(image, site)) {
        // A dropped link: the same peer again (the fetch resumes where it stopped) while it is alive.
        for (let attempt = 1; attempt <= PEER_ATTEMPTS; attempt++) {
          try {
            await fetchImage(this.deps.transfer, peer.peerId, image, signal);
            this.deps.log.info({ image, peer: peer.name }, 'image fetched from a peer');
            this.deps.fetched(image, 'peer');
            return 'peer';
          } catch (err) {
            if (signal.aborted) throw err;
            this.deps.log.warn(
              { image, peer: peer.name, attempt, err: shortReason(err) },
              'fetching an image from a peer failed',
            );
            if (attempt === PEER_ATTEMPTS) break;
            await sleep(PEER_RETRY_MS, signal);
            // A link that dropped may come back: the peer is waited for a while before the uplink is used.
            if (!(await this.aliveWithin(peer.name, PEER_WAIT_MS, signal))) break;
          }
        }
      }
      const claim = JSON.stringify({ node: this.deps.node, image, since: new Date().toISOString() });
      if (await this.claim(key, claim)) {
        try {
          return await this.fromRegistry(image, signal, auths);
        } finally {
          await this.deps.etcd
            .if(key, 'Value', '==', claim)
            .then(this.deps.etcd.delete().key(key))
            .commit()
            .catch(() => undefined);
        }
      }
      await this.waitForOther(image, site, key, signal);
    }
  }

  private async aliveWithin(name: string, ms: number, signal: AbortSignal): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      if (this.deps.member(name)?.state === 'alive') return true;
      if (Date.now() >= until) return false;
      await sleep(WAIT_POLL_MS, signal);
    }
  }

  private async fromRegistry(
    image: string,
    signal: AbortSignal,
    auths: readonly RegistryAuth[],
  ): Promise<FetchSource> {
    await pullImage(this.deps.docker, image, signal, auths);
    // What a peer had sent of it before is of no use now.
    await dropPart(this.deps.transfer.dir, image).catch(() => undefined);
    this.deps.fetched(image, 'registry');
    return 'registry';
  }

  private siteOf(labels: Record<string, string> | undefined): string {
    return labels?.[this.deps.config().images.siteLabel] ?? '';
  }

  /** Alive members of this site whose node status lists the image, in random order. */
  private async holders(image: string, site: string): Promise<Array<{ name: string; peerId: string }>> {
    const { etcd, cluster } = this.deps;
    const want = normalizeRef(image);
    const [nodes, statuses] = await Promise.all([
      listNodes(etcd, cluster),
      etcd.getAll().prefix(keys.nodeStatusPrefix(cluster)).strings(),
    ]).catch((err: unknown) => {
      throw new SiteUnavailable(err);
    });
    const out = nodes.filter((n) => {
      if (n.name === this.deps.node || this.siteOf(n.labels) !== site) return false;
      if (this.deps.member(n.name)?.state !== 'alive') return false;
      const text = statuses[keys.nodeStatus(cluster, n.name)];
      const status = text ? (JSON.parse(text) as NodeStatus) : undefined;
      return status?.images.some((i) => i.names.some((name) => normalizeRef(name) === want)) ?? false;
    });
    return out.map((n) => ({ name: n.name, peerId: n.peerId })).sort(() => Math.random() - 0.5);
  }

  /** Create the claim if nobody holds it; true when it is ours (also one we left before a restart). */
  private async claim(key: string, value: string): Promise<boolean> {
    return this.claimOnce(key, value).catch((err: unknown) => {
      throw new SiteUnavailable(err);
    });
  }

  private async claimOnce(key: string, value: string): Promise<boolean> {
    const { etcd } = this.deps;
    const id = await this.leaseId();
    const res = await etcd.if(key, 'Create', '==', 0).then(etcd.put(key).value(value).lease(id)).commit();
    if (res.succeeded) return true;
    const held = await etcd.get(key).string();
    return held !== null && (JSON.parse(held) as { node?: string }).node === this.deps.node;
  }

  private async leaseId(): Promise<string> {
    if (!this.lease) {
      const lease = this.deps.etcd.lease(CLAIM_TTL_SECONDS);
      lease.on('lost', () => {
        if (this.lease === lease) this.lease = undefined;
      });
      this.lease = lease;
    }
    return this.lease.grant();
  }

  /** Until the claimant's node status lists the image (another holder will do) or its claim is gone. */
  private async waitForOther(image: string, site: string, key: string, signal: AbortSignal): Promise<void> {
    this.deps.log.debug({ image, site }, 'another node of this site fetches the image; waiting for it');
    for (;;) {
      await sleep(WAIT_POLL_MS, signal);
      const claimed = await this.deps.etcd
        .get(key)
        .string()
        .catch((err: unknown) => {
          throw new SiteUnavailable(err);
        });
      if (claimed === null) return;
      if ((await this.holders(image, site)).length > 0) return;
    }
  }
}
