// The kubelet's atomic layout for ConfigMap and Secret volumes: the files live in a timestamped folder,
// `..data` is a symlink to it, and each visible name is a symlink into `..data`. An update writes a new
// folder and swaps `..data` with one rename, so a reader sees the old set or the new set, never a mix.
// The container mounts the volume folder itself, so the swap is visible inside it; a subPath mount
// binds one resolved file and is not updated, as in Kubernetes.
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';

const DATA = '..data';

export interface FileEntry {
  /** Relative path inside the volume (may hold folders). */
  path: string;
  content: string;
  mode: number;
}

/** Make `dir` hold exactly `files` (atomically); true when something changed. Unchanged data writes
 * nothing: every reconcile calls this, and edge disks are flash. */
export async function writeAtomically(dir: string, files: FileEntry[], now: Date): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  if (await sameAsCurrent(dir, files)) return false;
  const old = await readlink(join(dir, DATA)).catch(() => undefined);
  const stamp = `..${now.toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '')}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const fresh = join(dir, stamp);
  await mkdir(fresh);
  for (const f of files) {
    await mkdir(dirname(join(fresh, f.path)), { recursive: true });
    await writeFile(join(fresh, f.path), f.content);
    // Exactly the mode asked for (writeFile's is cut by the umask).
    await chmod(join(fresh, f.path), f.mode);
  }
  const tmp = join(dir, `${DATA}_tmp`);
  await rm(tmp, { force: true });
  await symlink(stamp, tmp);
  await rename(tmp, join(dir, DATA));
  // Visible names: one symlink per top-level name, into ..data.
  const top = new Set(files.map((f) => f.path.split('/')[0]!));
  for (const name of top) await linkInto(dir, name);
  for (const name of await readdir(dir)) {
    if (name.startsWith('..') || top.has(name)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
  if (old && old !== stamp) await rm(join(dir, old), { recursive: true, force: true });
  return true;
}

async function linkInto(dir: string, name: string): Promise<void> {
  const at = join(dir, name);
  const target = join(DATA, name);
  const st = await lstat(at).catch(() => undefined);
  if (st?.isSymbolicLink() && (await readlink(at)) === target) return;
  // A plain file or folder of the layout before this one: replaced by the link.
  if (st?.isDirectory()) await rm(at, { recursive: true, force: true });
  const tmp = `${at}..tmp`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, at);
}

async function sameAsCurrent(dir: string, files: FileEntry[]): Promise<boolean> {
  const data = join(dir, DATA);
  const current = await listFiles(data).catch(() => undefined);
  if (!current || current.length !== files.length) return false;
  for (const f of files) {
    const at = join(data, f.path);
    const [content, st] = await Promise.all([
      readFile(at, 'utf8').catch(() => undefined),
      stat(at).catch(() => undefined),
    ]);
    if (content !== f.content || !st || (st.mode & 0o777) !== f.mode) return false;
  }
  // Every visible name must be a link (a folder of the old layout is converted once).
  for (const name of new Set(files.map((f) => f.path.split('/')[0]!))) {
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (!st?.isSymbolicLink()) return false;
  }
  return true;
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, rel)));
    else out.push(rel);
  }
  return out;
}
