// The built-in pod sandbox image, network.sandboxImage's default: made on the node's own engine from the
// executable this agent carries (elf.ts) by `docker import` of a one-file archive, `CMD ["/pause"]`. No
// registry is asked, so a node that reaches none (the edge, a fresh test machine) runs pods all the same.
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { DOCUMENTED_DEFAULTS } from '../../config/defaults.ts';
import { oneFileTar } from '../../op/tar.ts';
import { PAUSE_ELF } from './elf.ts';

export const BUILTIN_SANDBOX_IMAGE = DOCUMENTED_DEFAULTS['network.sandboxImage'];

/** Imports BUILTIN_SANDBOX_IMAGE into the engine, for the engine's architecture. */
export async function importBuiltinSandbox(docker: Docker): Promise<void> {
  const { Arch } = await docker.version();
  const elf = PAUSE_ELF[Arch];
  if (!elf)
    throw new Error(
      `the built-in sandbox image ${BUILTIN_SANDBOX_IMAGE} has no executable for ${Arch} (only ${Object.keys(PAUSE_ELF).join(', ')}): set network.sandboxImage to a pause image for it`,
    );
  const [repo, tag] = BUILTIN_SANDBOX_IMAGE.split(':') as [string, string];
  const tar = oneFileTar('pause', Buffer.from(elf, 'base64'), 0o755);
  const stream = await docker.importImage(Readable.from([tar]), {
    repo,
    tag,
    changes: ['CMD ["/pause"]'],
  });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err ?? out.find((o) => o.error);
      if (failed) reject(new Error(err ? err.message : (failed as { error: string }).error));
      else resolve();
    });
  });
}
