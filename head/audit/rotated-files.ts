// The audit log's files on disk: the live file (`audit.jsonl`) and the ones rotated out of it, numbered
// from the newest (`audit.1.jsonl`) to the oldest (`audit.<maxFiles>.jsonl`), as logrotate and
// Kubernetes' --audit-log-maxbackup keep them. A number may be missing (a crash between two renames):
// every step here works from what is listed, so the next rotation closes the gap.
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface RotatedFile {
  /** 1 = the newest rotated out. */
  index: number;
  path: string;
}

/** `audit.jsonl` -> `audit`, `.jsonl`. */
function parts(file: string): { dir: string; stem: string; ext: string } {
  const name = basename(file);
  const dot = name.lastIndexOf('.');
  return {
    dir: dirname(file),
    stem: dot > 0 ? name.slice(0, dot) : name,
    ext: dot > 0 ? name.slice(dot) : '',
  };
}

export function rotatedPath(file: string, index: number): string {
  const { dir, stem, ext } = parts(file);
  return join(dir, `${stem}.${index}${ext}`);
}

/** The rotated files that exist, oldest first (highest number first). */
export async function listRotated(file: string): Promise<RotatedFile[]> {
  const { dir, stem, ext } = parts(file);
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${literal(stem)}\\.([1-9]\\d{0,5})${literal(ext)}$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => ({ n, m: pattern.exec(n) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ index: Number(x.m![1]), path: join(dir, x.n) }))
    .sort((a, b) => b.index - a.index);
}

/** Move the live file to `.1`, each rotated one a number up, and remove those that would pass `maxFiles`
 * (also those left from a larger `maxFiles`). Renames only: the records themselves are never copied. */
export async function rotate(file: string, maxFiles: number): Promise<void> {
  for (const r of await listRotated(file)) {
    if (r.index >= maxFiles) await rm(r.path, { force: true });
    else await rename(r.path, rotatedPath(file, r.index + 1));
  }
  await rename(file, rotatedPath(file, 1));
}
