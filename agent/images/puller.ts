// The agent's side of image pre-pull (pull-requests.ts): it follows the requests for its node, pulls
// each image asked for (PULLS_AT_ONCE at a time, with the pod steps' pull code and k8s' pull policies),
// and reports in its node status the images it holds and the outcome of each request. A failed pull is
// tried again after a back-off (10 s doubling to 5 min) while it is still asked for, a request written
// again included (the controller rewrites one to note a failure reported: that must not make pulls
// busier). Higher-priority requests' images start first (prewarm tasks' `priority`); a pull in flight whose
// image no request asks for any more (a cancelled task) is stopped. Pulls are the engine's work: the event
// loop only waits for them.
import type { Logger } from '../log/logger.ts';
import type { PullResult } from './pull-metrics.ts';
import {
  type ImagePullOutcome,
  type ImagePullRequest,
  MAX_NODE_IMAGES,
  MAX_REQUESTED_IMAGES,
  type NodeImage,
  type NodeStatus,
  PULLS_AT_ONCE,
  type PullPolicy,
  type PullSecretRef,
  RANK,
} from './pull-requests.ts';

/** What the puller asks of the engine (agent/runtime/images.ts on Docker). */
export interface ImageEngine {
  present(image: string): Promise<boolean>;
  /** `secrets`: the requests' imagePullSecrets (their registry credentials are tried in order). */
  pull(
    image: string,
    signal: AbortSignal,
    policy: PullPolicy,
    secrets: readonly PullSecretRef[],
  ): Promise<void>;
  list(): Promise<NodeImage[]>;
}

export interface PullerDeps {
  engine: ImageEngine;
  /** Write the node status (the last call wins; failures are retried by the caller's writer). */
  report(status: NodeStatus): void;
  log: Logger;
  now?: () => Date;
  backoff?: typeof PULL_BACKOFF;
  /** Each attempt's end (pull-metrics.ts). */
  counted?(image: string, result: PullResult): void;
}

/** Back-off of a failed image: 10 s doubling to 5 min. */
export const PULL_BACKOFF = { firstMs: 10_000, maxMs: 300_000 };

interface Wanted {
  policy: PullPolicy;
  revision: bigint;
  priority: number;
  /** Every request's pull secrets for the image, each once, in the order the requests came. */
  secrets: PullSecretRef[];
}

export class ImagePuller {
  private readonly deps: PullerDeps;
  private readonly outcomes = new Map<string, ImagePullOutcome>();
  /** Failed images: the back-off step and whether it has run out (the next attempt may start). */
  private readonly backoff = new Map<string, { ms: number; timer: NodeJS.Timeout; due: boolean }>();
  private wanted = new Map<string, Wanted>();
  /** Attempts in flight, by image: stopped when no request asks for the image any more. */
  private readonly inFlight = new Map<string, AbortController>();
  private images: NodeImage[] = [];
  private running = 0;
  private stopped = false;

  constructor(deps: PullerDeps) {
    this.deps = deps;
  }

  /** A first status at once (the node pre-pulls), then with the images held now. */
  async start(): Promise<void> {
    this.report();
    await this.refreshImages();
    this.report();
  }

  /** The engine's images changed (an image fetched for a pod): the node status lists them again. */
  imagesChanged(): void {
    void this.refreshImages().then(() => this.report());
  }

  /** The images the requests ask for now. */
  wantedImages(): string[] {
    return [...this.wanted.keys()];
  }

  stop(): void {
    this.stopped = true;
    for (const b of this.backoff.values()) clearTimeout(b.timer);
    for (const a of this.inFlight.values()) a.abort();
  }

  /** The requests for this node now (value and mod revision each). */
  requests(list: Array<{ request: ImagePullRequest; modRevision: string }>): void {
    const wanted = new Map<string, Wanted>();
    for (const { request, modRevision } of list)
      for (const { image, policy } of request.images) {
        const had = wanted.get(image);
        const revision = BigInt(modRevision);
        const priority = request.priority ?? 0;
        const secrets = [...(had?.secrets ?? [])];
        for (const s of request.pullSecrets ?? [])
          if (!secrets.some((o) => o.namespace === s.namespace && o.name === s.name)) secrets.push(s);
        wanted.set(image, {
          policy: had && RANK[had.policy] > RANK[policy] ? had.policy : policy,
          revision: had && had.revision > revision ? had.revision : revision,
          priority: had && had.priority > priority ? had.priority : priority,
          secrets,
        });
      }
    this.wanted = wanted;
    for (const [image, abort] of this.inFlight)
      if (!wanted.has(image)) {
        this.deps.log.info({ image }, 'image pull stopped: no request asks for it any more');
        abort.abort();
      }
    for (const image of [...this.outcomes.keys()])
      if (!wanted.has(image) && this.outcomes.get(image)?.state !== 'Pulling') this.outcomes.delete(image);
    this.next();
    this.report();
  }

  /** Start the attempts due, PULLS_AT_ONCE at most running. */
  private next(): void {
    // Higher priority first, then by name (the same order on every call: the MAX_REQUESTED_IMAGES cut).
    const images = [...this.wanted]
      .sort(([a, wa], [b, wb]) => wb.priority - wa.priority || (a < b ? -1 : a > b ? 1 : 0))
      .map(([image]) => image);
    for (const [i, image] of images.entries()) {
      if (this.stopped || this.running >= PULLS_AT_ONCE) return;
      const want = this.wanted.get(image)!;
      const o = this.outcomes.get(image);
      if (o?.state === 'Pulling') continue;
      const answered = o !== undefined && BigInt(o.revision) >= want.revision;
      if (answered && o.state === 'Pulled') continue;
      if (this.backoff.get(image)?.due === false) continue;
      if (i >= MAX_REQUESTED_IMAGES) {
        if (!answered)
          this.settle(image, want.revision, `more than ${MAX_REQUESTED_IMAGES} images asked for`);
        continue;
      }
      void this.attempt(image, want);
    }
  }

  private async attempt(image: string, want: Wanted): Promise<void> {
    this.running++;
    const revision = String(want.revision);
    this.outcomes.set(image, { image, state: 'Pulling', revision, time: this.now() });
    this.report();
    const abort = new AbortController();
    this.inFlight.set(image, abort);
    let failure: string | undefined;
    let fetched = false;
    try {
      const present = await this.deps.engine.present(image);
      if (want.policy === 'Never') {
        if (!present) failure = `Container image "${image}" is not present with pull policy of Never`;
      } else if ((want.policy === 'Always' || !present) && !abort.signal.aborted) {
        fetched = true;
        await this.deps.engine.pull(image, abort.signal, want.policy, want.secrets);
      }
    } catch (err) {
      failure = `Failed to pull image "${image}": ${err instanceof Error ? err.message : String(err)}`;
    }
    this.running--;
    this.inFlight.delete(image);
    if (abort.signal.aborted) {
      // Nobody asks any more: no outcome to report, no back-off (a new request starts afresh).
      this.deps.counted?.(image, 'stopped');
      this.outcomes.delete(image);
      this.next();
      this.report();
      return;
    }
    this.deps.counted?.(image, failure !== undefined ? 'failed' : fetched ? 'pulled' : 'present');
    if (failure === undefined) {
      clearTimeout(this.backoff.get(image)?.timer);
      this.backoff.delete(image);
      this.outcomes.set(image, { image, state: 'Pulled', revision, time: this.now() });
      await this.refreshImages();
    } else this.settle(image, want.revision, failure);
    this.next();
    this.report();
  }

  /** A failed attempt: reported, and tried again after the back-off while still asked for. */
  private settle(image: string, revision: bigint, message: string): void {
    this.outcomes.set(image, {
      image,
      state: 'Failed',
      revision: String(revision),
      message,
      time: this.now(),
    });
    const had = this.backoff.get(image);
    if (had) clearTimeout(had.timer);
    const { firstMs, maxMs } = this.deps.backoff ?? PULL_BACKOFF;
    const ms = had ? Math.min(had.ms * 2, maxMs) : firstMs;
    const timer = setTimeout(() => {
      const b = this.backoff.get(image);
      if (b?.timer === timer) b.due = true;
      this.next();
    }, ms);
    timer.unref();
    this.backoff.set(image, { ms, timer, due: false });
    this.deps.log.warn({ image, retryInMs: ms }, message);
  }

  private async refreshImages(): Promise<void> {
    try {
      this.images = (await this.deps.engine.list())
        .sort((a, b) => b.sizeBytes - a.sizeBytes)
        .slice(0, MAX_NODE_IMAGES);
    } catch (err) {
      this.deps.log.debug({ err: String(err) }, 'listing images failed; the node status keeps the last list');
    }
  }

  private report(): void {
    if (this.stopped) return;
    const pulls = [...this.outcomes.values()].sort((a, b) => (a.image < b.image ? -1 : 1));
    this.deps.report({ images: this.images, pulls });
  }

  private now(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }
}
