// Image garbage collection on a node, as the kubelet's (README "Image garbage collection"): when the disk
// that holds the engine's data is `highThresholdPercent` full or more, images no container uses (running
// or exited), that no pre-pull or prewarm request asks for and that are not the pod sandbox's are removed,
// least recently used first (never seen in use by this agent: oldest first), until it is down to
// `lowThresholdPercent`; an image is not removed before `minAgeSeconds` since this agent first saw it.
// Unlike the kubelet, which owns its runtime, only images nokube brought to this node are candidates: those
// its pods ran and its requests asked for, remembered in the workspace (`image-gc.json`, across restarts);
// an engine shared with other software keeps the others' images.
// Checked every 5 min (the kubelet's period) and after each image this agent pulled. Exited containers go
// with their pods (agent/pods/part.ts removes the containers of pods that are gone; finished Jobs' pods go
// with their Jobs' history and TTL).
import { readFile, rename, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { Counter, type Registry } from 'prom-client';
import type { NodeConfig } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { watchDockerEvents } from '../runtime/docker-events.ts';
import { LABEL } from '../runtime/labels.ts';

export type ImageGCConfig = NodeConfig['imageGC'];

export interface GCImage {
  id: string;
  names: string[];
  sizeBytes: number;
  /** When this agent last saw a container use it, else when it first saw the image (ms). */
  lastUsedMs: number;
  firstSeenMs: number;
}

export interface GCInput {
  /** The data disk: bytes in all and available. */
  disk: { sizeBytes: number; availableBytes: number };
  images: GCImage[];
  /** Image ids some container uses (any state). */
  inUse: ReadonlySet<string>;
  /** Image references that must stay (requests, the sandbox image), as written. */
  keep: ReadonlySet<string>;
  /** Image references nokube brought to this node (normalized): the only candidates. */
  ours: ReadonlySet<string>;
  config: ImageGCConfig;
  nowMs: number;
}

/** What to remove (in order) and how much that frees; nothing below the high threshold. */
export function planImageGC(input: GCInput): { usedPercent: number; toFreeBytes: number; remove: GCImage[] } {
  const { disk, config } = input;
  const used = disk.sizeBytes - disk.availableBytes;
  const usedPercent = disk.sizeBytes > 0 ? (used * 100) / disk.sizeBytes : 0;
  if (usedPercent < config.highThresholdPercent) return { usedPercent, toFreeBytes: 0, remove: [] };
  const toFreeBytes = used - (disk.sizeBytes * config.lowThresholdPercent) / 100;
  const keep = new Set([...input.keep].map(normalizeRef));
  const candidates = input.images
    .filter((i) => i.names.some((n) => input.ours.has(normalizeRef(n))))
    .filter((i) => !input.inUse.has(i.id))
    .filter((i) => !i.names.some((n) => keep.has(normalizeRef(n))))
    .filter((i) => input.nowMs - i.firstSeenMs >= config.minAgeSeconds * 1000)
    .sort((a, b) => a.lastUsedMs - b.lastUsedMs || b.sizeBytes - a.sizeBytes);
  const remove: GCImage[] = [];
  let freed = 0;
  for (const i of candidates) {
    if (freed >= toFreeBytes) break;
    remove.push(i);
    freed += i.sizeBytes;
  }
  return { usedPercent, toFreeBytes, remove };
}

/** `busybox`, `library/busybox:latest` and `docker.io/library/busybox:latest` are one image. */
export function normalizeRef(ref: string): string {
  const at = ref.indexOf('@');
  let name = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at) : '';
  if (!digest && !name.slice(name.lastIndexOf('/') + 1).includes(':')) name += ':latest';
  const first = name.split('/')[0]!;
  const registry =
    name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!registry) name = `docker.io/${name.includes('/') ? name : `library/${name}`}`;
  return name + digest;
}

export const GC_PERIOD_MS = 300_000;
const OURS_FILE = 'image-gc.json';
/** How often the images pods and requests use are added to ours between passes. */
const NOTE_PERIOD_MS = 30_000;

/** Image references remembered as ours at most (the oldest forgotten first). */
export const OURS_MAX = 2000;

export interface ImageGCDeps {
  docker: Docker;
  /** Where `image-gc.json` (the images nokube brought here) is kept. */
  workspace: string;
  /** The cluster: its containers' images are ours. */
  cluster: string;
  config(): ImageGCConfig;
  /** Image references to keep besides those in use. */
  keep(): Iterable<string>;
  /** Whether this node's pods are known (false: no pass yet). */
  podsKnown?(): boolean;
  log: Logger;
  metrics: Registry;
}

/** Runs the plan against the engine: one pass at a time, a pass asked meanwhile runs after. */
export class ImageGC {
  private readonly deps: ImageGCDeps;
  private readonly firstSeen = new Map<string, number>();
  private readonly lastUsed = new Map<string, number>();
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private noting: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private root: string | undefined;
  private blind = false;
  private readonly freed: Counter;
  /** Normalized references nokube brought here, in the order first seen (undefined until read). */
  private ours: Set<string> | undefined;
  private loading: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private events: { stop(): void } | undefined;

  constructor(deps: ImageGCDeps) {
    this.deps = deps;
    deps.metrics.removeSingleMetric('nokube_image_gc_removed_total');
    this.freed = new Counter({
      name: 'nokube_image_gc_removed_total',
      help: 'Images the image garbage collection removed since the agent started, and their bytes (unit).',
      labelNames: ['unit'],
      registers: [deps.metrics],
    });
  }

  /** Once; passes run only after it. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.timer = setInterval(() => this.kick(), GC_PERIOD_MS);
    this.timer.unref();
    // What pods and requests use is remembered as ours between passes too (a Job's pod may come and go).
    this.noting = setInterval(() => {
      this.remember(this.deps.keep()).catch((err) =>
        this.deps.log.debug({ err: String(err) }, 'remembering our images failed'),
      );
    }, NOTE_PERIOD_MS);
    this.noting.unref();
    // Each container of ours as it is made: its image is ours (a pod may be gone before the next pass).
    this.events = watchDockerEvents(
      this.deps.docker,
      { type: ['container'], event: ['create'], label: [`${LABEL.cluster}=${this.deps.cluster}`] },
      (ev) => {
        const image = ev.Actor?.Attributes?.image;
        if (image)
          this.remember([image]).catch((err) =>
            this.deps.log.debug({ err: String(err) }, 'remembering our images failed'),
          );
      },
    );
    this.kick();
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.noting);
    this.events?.stop();
  }

  /** A pass now (or right after the one under way). */
  kick(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err) => this.deps.log.warn({ err: String(err) }, 'image garbage collection failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when no pass runs (tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Add `refs` to the images nokube brought here; the file is written (one write at a time) when the set
   * grew. Resolves with the set. */
  private async remember(refs: Iterable<string>): Promise<ReadonlySet<string>> {
    const file = join(this.deps.workspace, OURS_FILE);
    this.loading ??= readFile(file, 'utf8')
      .then((text) => JSON.parse(text) as unknown)
      .catch(() => [])
      .then((list) => {
        this.ours = new Set(
          Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [],
        );
      });
    await this.loading;
    const ours = this.ours!;
    const before = ours.size;
    for (const r of refs) ours.add(normalizeRef(r));
    if (ours.size === before) return ours;
    while (ours.size > OURS_MAX) ours.delete(ours.values().next().value!);
    this.saving = this.saving.then(async () => {
      const tmp = `${file}.tmp`;
      await writeFile(tmp, JSON.stringify([...ours]));
      await rename(tmp, file);
    });
    await this.saving;
    return ours;
  }

  private async pass(): Promise<void> {
    const { docker } = this.deps;
    // The pods part has not published this node's pods yet (or runs none: no engine): their images are
    // not known.
    if (this.deps.podsKnown && !this.deps.podsKnown()) return;
    this.root ??= (await docker.info()).DockerRootDir as string;
    let disk: GCInput['disk'];
    try {
      const s = await statfs(this.root);
      disk = { sizeBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize };
    } catch (err) {
      if (!this.blind)
        this.deps.log.warn(
          { root: this.root, err: String(err) },
          "image garbage collection cannot see the engine's data disk from this agent; it does nothing",
        );
      this.blind = true;
      return;
    }
    const now = Date.now();
    const [list, containers] = await Promise.all([
      docker.listImages({ all: false }),
      docker.listContainers({ all: true }),
    ]);
    const inUse = new Set(containers.map((c) => c.ImageID));
    for (const id of inUse) this.lastUsed.set(id, now);
    const images = list.map((i): GCImage => {
      if (!this.firstSeen.has(i.Id)) this.firstSeen.set(i.Id, now);
      return {
        id: i.Id,
        names: [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])].filter((n) => !n.includes('<none>')),
        sizeBytes: i.Size,
        lastUsedMs: this.lastUsed.get(i.Id) ?? i.Created * 1000,
        firstSeenMs: this.firstSeen.get(i.Id)!,
      };
    });
    const keep = new Set(this.deps.keep());
    const ourContainers = containers.filter((c) => c.Labels?.[LABEL.cluster] === this.deps.cluster);
    const ours = await this.remember([...keep, ...ourContainers.map((c) => c.Image)]);
    const plan = planImageGC({
      disk,
      images,
      inUse,
      keep,
      ours,
      config: this.deps.config(),
      nowMs: now,
    });
    if (plan.toFreeBytes <= 0) return;
    let freed = 0;
    for (const image of plan.remove) {
      try {
        // force: an image under several names is removed with all of them (none is in use: checked above).
        await docker.getImage(image.id).remove({ force: true });
        freed += image.sizeBytes;
        this.freed.inc({ unit: 'images' });
        this.freed.inc({ unit: 'bytes' }, image.sizeBytes);
        this.deps.log.info(
          { image: image.names[0] ?? image.id, bytes: image.sizeBytes },
          'unused image removed',
        );
      } catch (err) {
        this.deps.log.warn(
          { image: image.names[0] ?? image.id, err: String(err) },
          'removing an unused image failed',
        );
      }
    }
    const level = freed >= plan.toFreeBytes ? 'info' : 'warn';
    this.deps.log[level](
      {
        usedPercent: Math.round(plan.usedPercent),
        toFreeBytes: Math.round(plan.toFreeBytes),
        freedBytes: freed,
      },
      freed >= plan.toFreeBytes
        ? 'image garbage collection freed the disk down to its low threshold'
        : 'image garbage collection could not free enough: the images left are in use or asked for',
    );
  }
}
