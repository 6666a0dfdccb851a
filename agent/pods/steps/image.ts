// Step "image": present, or pulled as the pull policy says. A failed pull is ErrImagePull, then
// ImagePullBackOff while its back-off runs; an absent image with policy Never is ErrImageNeverPull.

import type Docker from 'dockerode';
import { authsOf, credentialsFor, type RegistryAuth } from '../../images/registry-auth.ts';
import type { Secret } from '../../objects/types.ts';
import { imagePresent, pullImage, pullPolicy } from '../../runtime/images.ts';
import { type ContainerRun, errorText, note, Waiting, warn } from './run.ts';

export async function imageStep(run: ContainerRun): Promise<undefined | Waiting> {
  const { c, t, deps } = run;
  const now = deps.clock.now();
  const docker = deps.docker as Docker;
  const policy = pullPolicy(c);
  const present = await imagePresent(docker, c.image);
  if (present && policy !== 'Always') return undefined;
  if (!present && policy === 'Never') {
    const message = `Container image "${c.image}" is not present with pull policy of Never`;
    warn(run, 'ErrImageNeverPull', message);
    return new Waiting('ErrImageNeverPull', message);
  }
  if (t.pull && now < t.pull.notBefore) {
    note(run, 'BackOff', `Back-off pulling image "${c.image}"`);
    return new Waiting('ImagePullBackOff', `Back-off pulling image "${c.image}"`);
  }
  note(run, 'Pulling', `Pulling image "${c.image}"`);
  const auths = pullCredentials(run);
  try {
    if (deps.pullImage) await deps.pullImage(c.image, policy === 'Always' ? 'Always' : 'IfNotPresent', auths);
    else await pullImage(docker, c.image, undefined, auths);
  } catch (err) {
    const backoffMs = t.pull ? Math.min(t.pull.backoffMs * 2, deps.backoff.maxMs) : deps.backoff.initialMs;
    t.pull = { backoffMs, notBefore: now + backoffMs };
    // Once more soon (to say ImagePullBackOff, as the kubelet does), then when the back-off ends.
    deps.wakeAt(now + 1000);
    deps.wakeAt(t.pull.notBefore);
    const message = `Failed to pull image "${c.image}": ${errorText(err)}`;
    warn(run, 'Failed', message);
    return new Waiting('ErrImagePull', message);
  }
  delete t.pull;
  note(run, 'Pulled', `Successfully pulled image "${c.image}"`);
  return undefined;
}

/** The credentials of the pod's imagePullSecrets for the container's image. A Secret that is missing
 * (or not of a registry type) is a Warning, and the pull goes on without it, as the kubelet's. */
function pullCredentials(run: ContainerRun): RegistryAuth[] {
  const { pod, c, deps } = run;
  const namespace = pod.metadata.namespace ?? 'default';
  const secrets: Secret[] = [];
  const missing: string[] = [];
  for (const { name } of pod.spec.imagePullSecrets ?? []) {
    const secret = deps.lookup.secret(namespace, name);
    if (secret && authsOf(secret)) secrets.push(secret);
    else missing.push(`"${namespace}/${name}"`);
  }
  if (missing.length > 0)
    warn(
      run,
      'FailedToRetrieveImagePullSecret',
      `Unable to retrieve some image pull secrets (${missing.join(', ')}); attempting to pull the image may not succeed.`,
    );
  return credentialsFor(c.image, secrets);
}
