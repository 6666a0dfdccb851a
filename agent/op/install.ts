// Install uploaded files atomically: each was uploaded next to its target (same filesystem); its
// checksum is checked, its mode set, it is flushed and renamed over the target. A mismatch removes
// the upload and fails naming the file; the target is never half-written.
import { chmod, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checksumCacheFile, fileSha256, recordSha256 } from './checksum.ts';

export interface InstallFile {
  from: string;
  to: string;
  sha256: string;
  mode: number;
}

export async function installFiles(files: InstallFile[]): Promise<{ installed: string[] }> {
  for (const f of files) {
    if (dirname(f.from) !== dirname(f.to))
      throw new Error(
        `install ${f.to}: upload ${f.from} is not in the same directory (rename would not be atomic)`,
      );
    const got = await fileSha256(f.from);
    if (got !== f.sha256) {
      await rm(f.from, { force: true });
      throw new Error(`install ${f.to}: uploaded file has sha256 ${got}, expected ${f.sha256}`);
    }
  }
  for (const f of files) {
    await chmod(f.from, f.mode);
    const fh = await open(f.from, 'r');
    await fh.sync();
    await fh.close();
    await rename(f.from, f.to);
    await recordSha256(f.to, f.sha256, checksumCacheFile(f.to));
  }
  return { installed: files.map((f) => f.to) };
}
