// The EndpointSlice controller's reconcile of one Service (pure): the slices it should have, from the
// pods its selector picks that have an IP, against the slices nokube manages for it. Endpoints are
// grouped by their resolved ports (a named targetPort is looked up per pod, in its containers' ports,
// so pods of two revisions may differ) and packed 100 to a slice, sorted by pod name. An endpoint is
// ready when its pod's Ready condition is True and it is not terminating (publishNotReadyAddresses: always
// ready), serving when Ready is True, terminating once deleted. A slice another manager labelled is never
// touched; a Service gone, or without a selector, keeps no slice of ours.
import { createHash } from 'node:crypto';
import { newMeta, type Stored } from '../../agent/objects/store.ts';
import {
  API_VERSION,
  type Endpoint,
  type EndpointPort,
  type EndpointSlice,
  MANAGED_BY_LABEL,
  MANAGED_BY_NOKUBE,
  type Pod,
  SERVICE_NAME_LABEL,
  type Service,
  type ServicePort,
} from '../../agent/objects/types.ts';
import { compareText } from '../../agent/text/compare.ts';
import type { Action } from './actions.ts';
import { stableJson } from './pod-template.ts';
import { isTerminal } from './world.ts';

/** k8s' maxEndpointsPerSlice default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;
/** k8s' label on the slices of a headless Service. */
const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** Slices of ours (managed-by nokube) for the Service `name` in the slices given. */
export const managedSlicesOf = (slices: Array<Stored<EndpointSlice>>, namespace: string, name: string) =>
  slices.filter(
    (s) =>
      s.object.metadata.namespace === namespace &&
      s.object.metadata.labels?.[SERVICE_NAME_LABEL] === name &&
      s.object.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_NOKUBE,
  );

export const selects = (svc: Service, pod: Pod): boolean => {
  const selector = svc.spec.selector ?? {};
  return (
    // An ExternalName Service is a DNS alias: no endpoints, whatever its selector (as k8s).
    svc.spec.type !== 'ExternalName' &&
    pod.metadata.namespace === svc.metadata.namespace &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v)
  );
};

/** The pod's port for a Service port: the number, or the container port of that name and protocol. */
function resolvePort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  const protocol = sp.protocol ?? 'TCP';
  for (const c of pod.spec.containers)
    for (const p of c.ports ?? [])
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  return undefined;
}

function endpointOf(svc: Service, pod: Pod): Endpoint {
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const terminating = pod.metadata.deletionTimestamp !== undefined;
  return {
    addresses: [pod.status!.podIP!],
    conditions: {
      ready: svc.spec.publishNotReadyAddresses ? true : ready && !terminating,
      serving: ready,
      terminating,
    },
    ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    // k8s: the pod's DNS record under the Service that its subdomain names.
    ...(pod.spec.hostname && pod.spec.subdomain === svc.metadata.name ? { hostname: pod.spec.hostname } : {}),
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata.namespace!,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
    },
  };
}

/** The slices the Service should have (metadata without server-set fields but name, labels, owner);
 * `taken`: names of slices in its namespace that are not ours (never reused). */
export function desiredSlices(
  svc: Service,
  pods: Pod[],
  taken: ReadonlySet<string> = new Set(),
): EndpointSlice[] {
  if (Object.keys(svc.spec.selector ?? {}).length === 0) return [];
  const groups = new Map<string, { ports: EndpointPort[]; endpoints: Endpoint[] }>();
  const chosen = pods
    .filter((p) => selects(svc, p) && !isTerminal(p) && p.status?.podIP)
    .sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  for (const pod of chosen) {
    const ports = (svc.spec.ports ?? []).flatMap((sp): EndpointPort[] => {
      const port = resolvePort(pod, sp);
      return port === undefined ? [] : [{ name: sp.name ?? '', protocol: sp.protocol ?? 'TCP', port }];
    });
    const key = stableJson(ports);
    const group = groups.get(key) ?? { ports, endpoints: [] };
    groups.set(key, group);
    group.endpoints.push(endpointOf(svc, pod));
  }
  // A Service whose selector picks nothing still has one slice (empty), as in k8s.
  if (groups.size === 0) groups.set('[]', { ports: [], endpoints: [] });
  const name = svc.metadata.name;
  const out: EndpointSlice[] = [];
  for (const [key, group] of [...groups].sort(([a], [b]) => compareText(a, b))) {
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 5);
    let n = 0;
    const nameFor = () => {
      for (;;) {
        const candidate = `${name}-${hash}${n === 0 ? '' : `-${n}`}`;
        n++;
        if (!taken.has(candidate)) return candidate;
      }
    };
    for (let i = 0; i === 0 || i * MAX_ENDPOINTS_PER_SLICE < group.endpoints.length; i++)
      out.push({
        apiVersion: API_VERSION.EndpointSlice,
        kind: 'EndpointSlice',
        metadata: {
          name: nameFor(),
          namespace: svc.metadata.namespace!,
          uid: '',
          resourceVersion: '0',
          generation: 1,
          creationTimestamp: '',
          labels: {
            [SERVICE_NAME_LABEL]: name,
            [MANAGED_BY_LABEL]: MANAGED_BY_NOKUBE,
            ...(svc.spec.clusterIP === 'None' ? { [HEADLESS_LABEL]: '' } : {}),
          },
          ownerReferences: [
            {
              apiVersion: API_VERSION.Service,
              kind: 'Service',
              name,
              uid: svc.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        addressType: 'IPv4',
        endpoints: group.endpoints.slice(i * MAX_ENDPOINTS_PER_SLICE, (i + 1) * MAX_ENDPOINTS_PER_SLICE),
        ports: group.ports,
      });
  }
  return out;
}

/** What the slice says (compared to tell a change): labels, owner, endpoints, ports. */
const content = (s: EndpointSlice) =>
  stableJson({
    labels: s.metadata.labels,
    owners: s.metadata.ownerReferences,
    addressType: s.addressType,
    endpoints: s.endpoints,
    ports: s.ports,
  });

/** Actions that make the Service's managed slices the desired ones (`svc` undefined: the Service is
 * gone; `name` is then the one its slices carry). */
export function reconcileEndpointSlices(
  namespace: string,
  name: string,
  svc: Service | undefined,
  pods: Pod[],
  slices: Array<Stored<EndpointSlice>>,
): Action[] {
  const ours = managedSlicesOf(slices, namespace, name);
  const have = new Map(ours.map((s) => [s.object.metadata.name, s]));
  const taken = new Set(
    slices
      .filter((s) => s.object.metadata.namespace === namespace && !ours.includes(s))
      .map((s) => s.object.metadata.name),
  );
  const want = svc ? desiredSlices(svc, pods, taken) : [];
  const actions: Action[] = [];
  for (const slice of want) {
    const prev = have.get(slice.metadata.name);
    have.delete(slice.metadata.name);
    if (!prev) {
      actions.push({ type: 'putObject', object: newMeta(slice), why: 'endpoints' });
      continue;
    }
    if (content(prev.object) === content(slice)) continue;
    const m = prev.object.metadata;
    slice.metadata = {
      ...slice.metadata,
      uid: m.uid,
      creationTimestamp: m.creationTimestamp,
      generation: m.generation + 1,
      resourceVersion: m.resourceVersion,
    };
    actions.push({ type: 'putObject', object: slice, prev, why: 'endpoints changed' });
  }
  for (const stale of have.values())
    actions.push({
      type: 'deleteObject',
      target: stale,
      why: svc ? 'no longer needed' : 'its Service is gone',
    });
  return actions;
}
