// Images: present locally, or pulled from their registry (k8s pull policies).
import type Docker from 'dockerode';
import type { RegistryAuth } from '../images/registry-auth.ts';
import type { Container } from '../objects/types.ts';

/** k8s default: Always for `:latest` or no tag, else IfNotPresent. */
export function pullPolicy(c: Container): 'Always' | 'IfNotPresent' | 'Never' {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const ref = c.image.split('@')[0]!;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : 'latest';
  return tag === 'latest' && !c.image.includes('@') ? 'Always' : 'IfNotPresent';
}

export async function imagePresent(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Pull an image; rejects with the registry's reason (e.g. "manifest unknown"). `signal` stops it: the
 * request to the engine is closed, which stops the engine's pull (layers already fetched stay). With
 * credentials (agent/images/registry-auth.ts), each in turn until one works; the last one's reason is
 * the error (the engine's reasons never hold a password). */
export async function pullImage(
  docker: Docker,
  ref: string,
  signal?: AbortSignal,
  auths: readonly RegistryAuth[] = [],
): Promise<void> {
  // Without credentials, one pull with an empty auth config (dockerd wants the header).
  const tries: readonly object[] = auths.length > 0 ? auths : [{}];
  for (const [i, auth] of tries.entries())
    try {
      return await pullOnce(docker, ref, signal, auth);
    } catch (err) {
      if (i === tries.length - 1 || signal?.aborted) throw err;
    }
}

async function pullOnce(docker: Docker, ref: string, signal: AbortSignal | undefined, authconfig: object) {
  const stream = await docker.pull(ref, { authconfig, ...(signal ? { abortSignal: signal } : {}) });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err ?? out.find((o) => o.error);
      if (failed) reject(new Error(err ? err.message : (failed as { error: string }).error));
      else resolve();
    });
  });
}
