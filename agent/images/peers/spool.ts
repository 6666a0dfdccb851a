// The serving side of images between peers: an image this node holds, saved from its engine (`docker save`
// of the reference, so a load tags it again) into a file of the workspace once, with its size and SHA-256,
// so that every fetch (and every resumed one, from an offset) reads the same bytes. Files beyond
// SPOOL_MAX_BYTES go, least recently served first.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';

export interface Spooled {
  file: string;
  size: number;
  sha256: string;
  /** The engine's image id (sha256 of its config): the loading side checks it. */
  imageId: string;
}

export const SPOOL_MAX_BYTES = 4 * 1024 ** 3;

export class ImageSpool {
  private readonly docker: Docker;
  private readonly dir: string;
  private readonly maxBytes: number;
  /** By reference and image id; most recently served last. */
  private readonly files = new Map<string, Promise<Spooled>>();

  constructor(docker: Docker, dir: string, maxBytes = SPOOL_MAX_BYTES) {
    this.docker = docker;
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /** The image as a file (made now unless made already for this id); rejects when the engine lacks it. */
  async get(ref: string): Promise<Spooled> {
    const imageId = (await this.docker.getImage(ref).inspect()).Id;
    const key = `${ref}\n${imageId}`;
    let spooled = this.files.get(key);
    if (spooled) this.files.delete(key);
    else spooled = this.save(ref, imageId);
    this.files.set(key, spooled);
    spooled.catch(() => this.files.delete(key));
    const done = await spooled;
    await this.evict(key);
    return done;
  }

  private async save(ref: string, imageId: string): Promise<Spooled> {
    await mkdir(this.dir, { recursive: true });
    const name = createHash('sha256').update(`${ref}\n${imageId}`).digest('hex').slice(0, 32);
    const file = join(this.dir, `${name}.tar`);
    const tmp = `${file}.tmp`;
    const hash = createHash('sha256');
    const source = await this.docker.getImage(ref).get();
    const out = createWriteStream(tmp);
    source.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(source, out);
    await rename(tmp, file);
    return { file, size: (await stat(file)).size, sha256: hash.digest('hex'), imageId };
  }

  private async evict(keep: string): Promise<void> {
    let total = 0;
    const entries: Array<[string, Spooled]> = [];
    for (const [k, p] of this.files) {
      const s = await p.catch(() => undefined);
      if (s) {
        entries.push([k, s]);
        total += s.size;
      }
    }
    for (const [k, s] of entries) {
      if (total <= this.maxBytes) break;
      if (k === keep) continue;
      this.files.delete(k);
      total -= s.size;
      await rm(s.file, { force: true });
    }
  }
}
