// SHA-256 of a file, streamed (the binary is ~130 MB, ~0.4 s to hash), and a cache of it keyed by the
// file's identity (device, inode, size, mtime, ctime): any write, rename over it or chmod changes ctime,
// so a cached sum is never served for different bytes. A deploy's no-change rerun hashes nothing.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Where a host keeps the sums of files installed in a directory (the binary, its config). */
export const checksumCacheFile = (file: string) => join(dirname(file), '.nokube-checksums.json');

interface CacheEntry {
  id: string;
  sha256: string;
}

async function identity(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return [s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(':');
}

async function readCache(cacheFile: string): Promise<Record<string, CacheEntry>> {
  try {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as Record<string, CacheEntry>;
  } catch {
    return {}; // absent or torn: every sum is computed again
  }
}

async function writeCache(cacheFile: string, cache: Record<string, CacheEntry>): Promise<void> {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  // Best effort: an unwritable cache only costs the next run a hash.
  await mkdir(dirname(cacheFile), { recursive: true })
    .then(() => writeFile(tmp, JSON.stringify(cache)))
    .then(() => rename(tmp, cacheFile))
    .catch(() => undefined);
}

/** fileSha256 through a cache file (a JSON map path -> {identity, sha256}) written atomically. */
export async function cachedFileSha256(path: string, cacheFile: string): Promise<string> {
  const id = await identity(path);
  const cache = await readCache(cacheFile);
  const hit = cache[path];
  if (hit?.id === id) return hit.sha256;
  const sha256 = await fileSha256(path);
  // Identity again: a file that changed while it was hashed is not cached.
  if ((await identity(path)) === id) {
    cache[path] = { id, sha256 };
    await writeCache(cacheFile, cache);
  }
  return sha256;
}

/** Record a sum already known (a file just installed after its check), so the next facts need no hash. */
export async function recordSha256(path: string, sha256: string, cacheFile: string): Promise<void> {
  const cache = await readCache(cacheFile);
  cache[path] = { id: await identity(path), sha256 };
  await writeCache(cacheFile, cache);
}
