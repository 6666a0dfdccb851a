// LimitRanges (v1, type Container): a container without a limit gets the range's `default`, one without
// a request its `defaultRequest` (else its limit, as k8s); `min` and `max` bound the requests and limits.
// Applied where k8s' admission would: to a Pod when it is applied, to a controller's pods when its
// controller makes them (head/controllers/pod-template.ts); a pod or template outside the bounds is
// refused at apply.
import { formatCpu, formatMemory } from '../scheduler/resources.ts';
import { parseCpu, parseMemory } from './quantity.ts';
import type { Container, LimitRange, PodSpec, ResourceList } from './types.ts';

type Res = keyof ResourceList;
const RESOURCES: readonly Res[] = ['cpu', 'memory'];
const amount = (r: Res, q: string) => (r === 'cpu' ? Math.round(parseCpu(q) * 1000) : parseMemory(q));
const shown = (r: Res, n: number) => (r === 'cpu' ? formatCpu(n) : formatMemory(n));

/** The spec with the ranges' defaults filled in (a copy; the same object when nothing changes). */
export function withLimitRangeDefaults<S extends Pick<PodSpec, 'containers' | 'initContainers'>>(
  spec: S,
  ranges: readonly LimitRange[],
): S {
  const items = ranges.flatMap((r) => r.spec.limits);
  if (!items.some((i) => i.default || i.defaultRequest)) return spec;
  const defaulted = (c: Container): Container => {
    const limits: ResourceList = { ...c.resources?.limits };
    const requests: ResourceList = { ...c.resources?.requests };
    for (const r of RESOURCES) {
      const def = items.find((i) => i.default?.[r])?.default?.[r];
      if (limits[r] === undefined && def !== undefined) limits[r] = def;
      const defReq = items.find((i) => i.defaultRequest?.[r])?.defaultRequest?.[r];
      if (requests[r] === undefined) {
        const v = defReq ?? (def !== undefined ? limits[r] : undefined);
        if (v !== undefined) requests[r] = v;
      }
    }
    const resources: Container['resources'] = {};
    if (Object.keys(limits).length > 0) resources.limits = limits;
    if (Object.keys(requests).length > 0) resources.requests = requests;
    return Object.keys(resources).length > 0 ? { ...c, resources } : c;
  };
  const containers = spec.containers.map(defaulted);
  return spec.initContainers
    ? { ...spec, containers, initContainers: spec.initContainers.map(defaulted) }
    : { ...spec, containers };
}

/** kubectl's wording for each container outside a range's min or max. */
export function limitRangeProblems(
  spec: Pick<PodSpec, 'containers' | 'initContainers'>,
  ranges: readonly LimitRange[],
): string[] {
  const out: string[] = [];
  for (const range of ranges)
    for (const item of range.spec.limits)
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])])
        for (const r of RESOURCES) {
          const req = c.resources?.requests?.[r] ?? c.resources?.limits?.[r];
          const lim = c.resources?.limits?.[r];
          const max = item.max?.[r];
          const min = item.min?.[r];
          if (max !== undefined) {
            if (lim === undefined)
              out.push(
                `maximum ${r} usage per Container is ${max}. No limit is specified (container ${c.name})`,
              );
            else if (amount(r, lim) > amount(r, max))
              out.push(
                `maximum ${r} usage per Container is ${max}, but limit is ${shown(r, amount(r, lim))} (container ${c.name})`,
              );
          }
          if (min !== undefined) {
            if (req === undefined)
              out.push(
                `minimum ${r} usage per Container is ${min}. No request is specified (container ${c.name})`,
              );
            else if (amount(r, req) < amount(r, min))
              out.push(
                `minimum ${r} usage per Container is ${min}, but request is ${shown(r, amount(r, req))} (container ${c.name})`,
              );
          }
        }
  return out;
}
