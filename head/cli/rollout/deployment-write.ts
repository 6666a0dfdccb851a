// The writes of `rollout`, `scale` and `set image`: kubectl's read-modify-write of one Deployment. The
// object is read, changed here, and applied back through the head with the resourceVersion read
// (`expect`): the head writes it only if nobody wrote in between (409 otherwise: read again, a few
// times). The head checks the change as any apply: validation, ACL `update` on deployments, admission.
import { UsageError } from '../../../agent/errors.ts';
import type { ApplyResult } from '../../../agent/objects/apply.ts';
import type { DaemonSet, Deployment } from '../../../agent/objects/types.ts';
import { HeadError, type HeadFlags, headGet, headPost } from '../head-client.ts';
import { objectPath, refFor, resolveKind, typeAndName } from '../objects-api.ts';

const ATTEMPTS = 5;

/** The change makes no sense for this Deployment (kubectl's errors: already paused, no such revision,
 * no such container): nothing written, exit 1. */
export class ChangeRefusedError extends Error {
  override name = 'ChangeRefusedError';
}

export interface TargetFlags extends HeadFlags {
  namespace?: string;
}

/** `deployment/web` or `deployment web`: the Deployment's path (other kinds are refused by name; a
 * DaemonSet too where the command takes one: `also`). */
export function deploymentPath(
  first: string,
  second: string | undefined,
  opts: TargetFlags,
  also?: 'DaemonSet',
): string {
  const [type, name] = typeAndName(first, second);
  if (name === undefined) throw new UsageError(`name the Deployment: ${type}/<name>`);
  const kind = resolveKind(type);
  if (kind !== 'Deployment' && kind !== also)
    throw new UsageError(
      also
        ? `${type}: nokube supports this for Deployments and DaemonSets only (deployment/<name>, daemonset/<name>)`
        : `${type}: nokube supports this for Deployments only (deployment/<name>)`,
    );
  return objectPath(refFor(kind, name, opts.namespace));
}

export const readDeployment = async <T extends Deployment | DaemonSet = Deployment>(
  opts: HeadFlags,
  path: string,
): Promise<T> => (await headGet<T>(opts, path)).body;

/** What a change makes of the Deployment read: the one to write, a refusal (an error, nothing written),
 * or nothing to do (said, exit 0: `skipped rollback`). */
export type Change<T = Deployment> = T | { refuse: string } | { skip: string };

/**
 * Read, `change`, write back only over what was read (read again on a conflict). Returns the written
 * object's apply result, or the skip message.
 */
export async function updateDeployment<T extends Deployment | DaemonSet = Deployment>(
  opts: HeadFlags,
  path: string,
  by: string,
  change: (d: T) => Change<T> | Promise<Change<T>>,
): Promise<ApplyResult | { skip: string }> {
  for (let attempt = 1; ; attempt++) {
    const d = await readDeployment<T>(opts, path);
    const next = await change(structuredClone(d));
    if ('refuse' in next) throw new ChangeRefusedError(next.refuse);
    if ('skip' in next) return next;
    const { status: _status, ...manifest } = next;
    try {
      const { items } = await headPost<{ items: ApplyResult[] }>(opts, '/api/v1/apply', {
        documents: [manifest],
        expect: [d.metadata.resourceVersion],
        by: `cli:${process.env.USER ?? 'unknown'} ${by}`,
      });
      return items[0]!;
    } catch (err) {
      if (!(err instanceof HeadError) || err.status !== 409 || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** `deployments.apps "web"`, as kubectl names one in errors. */
export const named = (d: Deployment) => `deployments.apps "${d.metadata.name}"`;
/** `deployment.apps/web`, as kubectl names one in results. */
export const slashed = (d: Deployment) => `deployment.apps/${d.metadata.name}`;
