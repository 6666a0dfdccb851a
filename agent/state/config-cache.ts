// The last cluster config this agent saw, on local disk, so a restart while etcd is unreachable still
// starts (edge autonomy). Written atomically (temp file + rename) so a crash never leaves half a file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const configCachePath = (workspace: string) => join(workspace, 'agent', 'config-cache.yaml');

export async function writeConfigCache(workspace: string, text: string): Promise<void> {
  const file = configCachePath(workspace);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

export async function readConfigCache(workspace: string): Promise<string | null> {
  try {
    return await readFile(configCachePath(workspace), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
