// nokube describe <kind> <name> [-n ns]: the object, its status and its events, as kubectl shows them.
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import type { KubeEvent } from '../../../agent/objects/events.ts';
import { countedKinds, countKey, type Usage, usageOf } from '../../../agent/objects/quota.ts';
import {
  type EndpointSlice,
  type Kind,
  type KubeObject,
  type LimitRange,
  type Pod,
  RESOURCE,
  type ResourceQuota,
  SERVICE_NAME_LABEL,
} from '../../../agent/objects/types.ts';
import type { NodeView } from '../../../agent/store/node-views.ts';
import { type HeadFlags, headRequest } from '../head-client.ts';
import { headOptions } from '../manifest-files.ts';
import { objectPath, refFor, resolveKind, typeAndName } from '../objects-api.ts';
import { describeText } from '../print/describe.ts';
import { describeNodeText } from '../print/describe-node.ts';

export function registerDescribe(program: Command): void {
  headOptions(
    program
      .command('describe <kind> [name]')
      .description('show an object in detail with its events')
      .option('-n, --namespace <ns>', 'namespace of the object (default "default")'),
  ).action(async (first: string, second: string | undefined, opts: HeadFlags & { namespace?: string }) => {
    const [kindWord, name] = typeAndName(first, second);
    if (!name) throw new UsageError('usage: nokube describe <kind> <name> (or <kind>/<name>)');
    if (['node', 'nodes', 'no'].includes(kindWord.toLowerCase())) return describeNode(opts, name);
    const ref = refFor(resolveKind(kindWord), name, opts.namespace);
    const path = objectPath(ref);
    // A Service's Endpoints lines come from its EndpointSlices (by the service-name label, as kubectl).
    const slices =
      ref.kind === 'Service'
        ? `/api/v1/objects/endpointslices?namespace=${encodeURIComponent(ref.namespace ?? 'default')}&labelSelector=${encodeURIComponent(`${SERVICE_NAME_LABEL}=${name}`)}`
        : undefined;
    const [obj, events, endpointSlices] = await Promise.all([
      headRequest<KubeObject>(opts, 'GET', path),
      headRequest<{ items: KubeEvent[] }>(opts, 'GET', `${path}/events`),
      slices ? headRequest<{ items: EndpointSlice[] }>(opts, 'GET', slices) : undefined,
    ]);
    const quotaUsage =
      ref.kind === 'ResourceQuota' ? await namespaceUsage(opts, ref.namespace ?? 'default', obj) : undefined;
    process.stdout.write(
      describeText(obj, events.items, {
        ...(endpointSlices ? { endpointSlices: endpointSlices.items } : {}),
        ...(quotaUsage ? { quotaUsage } : {}),
      }),
    );
  });
}

async function describeNode(opts: HeadFlags, name: string): Promise<void> {
  const [nodes, pods] = await Promise.all([
    headRequest<{ items: NodeView[] }>(opts, 'GET', '/api/v1/nodes'),
    headRequest<{ items: Pod[] }>(opts, 'GET', '/api/v1/objects/pods'),
  ]);
  const view = nodes.items.find((v) => v.name === name);
  if (!view) throw new UsageError(`node "${name}" not found`);
  process.stdout.write(describeNodeText(view, pods.items));
}

/** What a namespace's objects use, as the apply's quota check counts it (agent/objects/quota.ts). */
async function namespaceUsage(opts: HeadFlags, namespace: string, quota: KubeObject): Promise<Usage> {
  const hard = Object.keys((quota as ResourceQuota).spec.hard);
  const kinds: Kind[] = [...new Set([...countedKinds(hard), 'LimitRange' as const])];
  const q = `?namespace=${encodeURIComponent(namespace)}`;
  const [lists, nodes] = await Promise.all([
    Promise.all(
      kinds.map((k) =>
        headRequest<{ items: KubeObject[] }>(opts, 'GET', `/api/v1/objects/${RESOURCE[k]}${q}`),
      ),
    ),
    headRequest<{ items: NodeView[] }>(opts, 'GET', '/api/v1/nodes'),
  ]);
  const objects = lists.flatMap((l) => l.items);
  const ranges = objects.filter((o): o is LimitRange => o.kind === 'LimitRange');
  const live = nodes.items
    .filter((n) => n.status === 'Ready')
    .map((n) => ({
      name: n.name,
      labels: n.labels,
      taints: n.taints,
      allocatable: n.allocatable ?? undefined,
    }));
  return usageOf(
    objects.filter((o) => o.kind !== 'LimitRange' || hard.includes(countKey('LimitRange'))),
    live,
    ranges,
  );
}
