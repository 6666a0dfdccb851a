// Images between peers over the mesh (its authenticated, encrypted connections: only members; no extra
// port): `/nokube/image/1.0.0`. The fetching agent sends one length-prefixed JSON request `{image, offset}`;
// the serving agent answers a JSON header `{size, sha256, imageId}` (or `{error}`), then the bytes of its
// spooled save of the image from `offset` (spool.ts) in length-prefixed chunks. The fetching side appends to
// a part file and, after a dropped link, asks from its length again (same peer and checksum; else from 0);
// the whole file's SHA-256 is checked, then the engine loads it and the loaded image's id must be the
// header's. Both sides pace their chunks through the node's bandwidth cap.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stream } from '@libp2p/interface';
import type Docker from 'dockerode';
import { lpStream } from 'it-length-prefixed-stream';
import { z } from 'zod';
import type { Logger } from '../../log/logger.ts';
import { Bandwidth } from './bandwidth.ts';
import type { ImageSpool } from './spool.ts';

export const IMAGE_PROTOCOL = '/nokube/image/1.0.0';
const CHUNK = 64 * 1024;
const MAX_MESSAGE = CHUNK + 1024;
const request = z.strictObject({
  image: z.string().min(1).max(1024),
  offset: z.number().int().min(0),
  /** The fetching node's cap (bytes/s): the server paces to it too, so the link carries no more (the
   * stream's buffers would otherwise fill at full speed ahead of the reader). */
  rate: z.number().positive().optional(),
});
/** A stream with no data for this long is given up (and resumed). */
const STALL_MS = 20_000;
const header = z.union([
  z.strictObject({
    size: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    imageId: z.string(),
  }),
  z.strictObject({ error: z.string() }),
]);
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const parse = (b: { subarray(): Uint8Array }) =>
  JSON.parse(new TextDecoder().decode(b.subarray())) as unknown;

export interface TransferCounts {
  /** Bytes sent to peers and received from them. */
  sent(bytes: number): void;
  received(bytes: number): void;
}

/** Serve one fetch on `stream`. */
export async function serveImage(
  stream: Stream,
  deps: { spool: ImageSpool; bandwidth: Bandwidth; counts: TransferCounts; log: Logger; signal: AbortSignal },
): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
  const req = request.safeParse(
    parse(await lp.read({ signal: AbortSignal.any([deps.signal, AbortSignal.timeout(5000)]) })),
  );
  if (!req.success) {
    await lp.write(json({ error: `bad image request: ${req.error.issues[0]?.message}` }));
    await stream.close();
    return;
  }
  const { image, offset } = req.data;
  let spooled: Awaited<ReturnType<ImageSpool['get']>>;
  try {
    spooled = await deps.spool.get(image);
  } catch (err) {
    await lp.write(json({ error: `not held here: ${err instanceof Error ? err.message : String(err)}` }));
    await stream.close();
    return;
  }
  await lp.write(json({ size: spooled.size, sha256: spooled.sha256, imageId: spooled.imageId }));
  if (offset < spooled.size) {
    deps.log.info({ image, offset, size: spooled.size }, 'serving an image to a peer');
    const theirs = req.data.rate === undefined ? undefined : new Bandwidth(req.data.rate);
    for await (const chunk of createReadStream(spooled.file, { start: offset, highWaterMark: CHUNK })) {
      const bytes = chunk as Buffer;
      await deps.bandwidth.take(bytes.length, deps.signal);
      await theirs?.take(bytes.length, deps.signal);
      await lp.write(bytes, { signal: deps.signal });
      deps.counts.sent(bytes.length);
    }
  }
  await stream.close();
}

export interface FetchDeps {
  docker: Docker;
  /** Where part files are kept (across restarts: a fetch resumes). */
  dir: string;
  bandwidth: Bandwidth;
  counts: TransferCounts;
  openStream(peerId: string, signal: AbortSignal): Promise<Stream>;
  log: Logger;
}

interface PartMeta {
  peer: string;
  sha256: string;
  size: number;
}

/** The part file of `image` (and its meta) in `dir`. */
const partBase = (dir: string, image: string) =>
  join(dir, createHash('sha256').update(image).digest('hex').slice(0, 32));

/** What arrived of `image` from peers, dropped: the image came another way (the registry). */
export async function dropPart(dir: string, image: string): Promise<void> {
  const base = partBase(dir, image);
  await rm(`${base}.part`, { force: true });
  await rm(`${base}.json`, { force: true });
}

/** Parts not written for `maxAgeMs` (their image is no longer wanted, or came another way while this
 * agent was down) are removed: run at the agent's start. Returns how many files went. */
export async function sweepParts(dir: string, maxAgeMs: number, now = Date.now()): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (!/\.(part|json)$/.test(name)) continue;
    const file = join(dir, name);
    const s = await stat(file).catch(() => undefined);
    if (s && now - s.mtimeMs > maxAgeMs) {
      await rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}

/** Fetch `image` from the peer and load it into the engine. Rejects (keeping what arrived, for a resume)
 * when the link drops; rejects and drops it when the checksum or the loaded id is wrong. */
export async function fetchImage(
  deps: FetchDeps,
  peerId: string,
  image: string,
  signal: AbortSignal,
): Promise<void> {
  await mkdir(deps.dir, { recursive: true });
  const base = partBase(deps.dir, image);
  const part = `${base}.part`;
  const metaFile = `${base}.json`;
  const meta = await readFile(metaFile, 'utf8')
    .then((t) => JSON.parse(t) as PartMeta)
    .catch(() => undefined);
  let offset =
    meta?.peer === peerId
      ? await stat(part).then(
          (s) => s.size,
          () => 0,
        )
      : 0;
  const stream = await deps.openStream(peerId, signal);
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
  try {
    const rate = deps.bandwidth.bytesPerSecond();
    await lp.write(json({ image, offset, ...(rate === undefined ? {} : { rate }) }), { signal });
    const h = header.parse(
      parse(await lp.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]) })),
    );
    if ('error' in h) throw new Error(`peer ${peerId}: ${h.error}`);
    if (offset > 0 && (meta?.sha256 !== h.sha256 || offset > h.size)) {
      // Not the bytes the part came from: start again from 0.
      await stream.close();
      await rm(part, { force: true });
      await rm(metaFile, { force: true });
      return fetchImage(deps, peerId, image, signal);
    }
    if (offset === 0) await writeFile(part, '');
    await writeFile(
      metaFile,
      JSON.stringify({ peer: peerId, sha256: h.sha256, size: h.size } satisfies PartMeta),
    );
    if (offset > 0)
      deps.log.info({ image, peer: peerId, offset, size: h.size }, 'resuming an image fetch from a peer');
    const out = createWriteStream(part, { flags: 'a' });
    try {
      while (offset < h.size) {
        const chunk = await lp.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(STALL_MS)]) });
        const bytes = chunk.subarray();
        await deps.bandwidth.take(bytes.length, signal);
        if (!out.write(bytes)) await new Promise<void>((r) => out.once('drain', () => r()));
        offset += bytes.length;
        deps.counts.received(bytes.length);
      }
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
    await stream.close().catch(() => undefined);
    const sum = createHash('sha256');
    for await (const b of createReadStream(part)) sum.update(b as Buffer);
    if (sum.digest('hex') !== h.sha256) {
      await rm(part, { force: true });
      await rm(metaFile, { force: true });
      throw new Error(`image ${image} from peer ${peerId}: checksum mismatch`);
    }
    await loadImage(deps.docker, part);
    const loaded = await deps.docker.getImage(image).inspect();
    await rm(part, { force: true });
    await rm(metaFile, { force: true });
    if (loaded.Id !== h.imageId)
      throw new Error(`image ${image} from peer ${peerId}: loaded id ${loaded.Id}, expected ${h.imageId}`);
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

async function loadImage(docker: Docker, file: string): Promise<void> {
  const res = await docker.loadImage(createReadStream(file), { quiet: true });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(res, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err ?? out.find((o) => o.error);
      if (failed) reject(new Error(err ? err.message : (failed as { error: string }).error));
      else resolve();
    });
  });
}
