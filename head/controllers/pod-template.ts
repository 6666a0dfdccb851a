// Pods made from a controller's template: names, labels, owner reference, and the template hash that
// tells an up-to-date pod from an old one.
import { createHash, randomInt } from 'node:crypto';
import { withLimitRangeDefaults } from '../../agent/objects/limit-range.ts';
import { newMeta } from '../../agent/objects/store.ts';
import {
  API_VERSION,
  type DaemonSet,
  type Deployment,
  type Job,
  type LimitRange,
  type Pod,
  type PodTemplateSpec,
} from '../../agent/objects/types.ts';

export type Controller = Deployment | DaemonSet | Job;

/** JSON with keys sorted at every level: equal templates hash equal whatever the key order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** 10 chars [a-z0-9] from a sha256 of the template (k8s pod-template-hash is the same idea). */
export function templateHash(template: PodTemplateSpec): string {
  const digest = createHash('sha256').update(stableJson(template)).digest();
  return digest.readBigUInt64BE(0).toString(36).padStart(10, '0').slice(-10);
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** 5 random chars, from k8s's alphabet (no vowels, no look-alikes). */
export const randomSuffix = (): string =>
  Array.from({ length: 5 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/** A new pod object for `owner` (uid, generation, creation time filled in). */
export function podFromTemplate(
  owner: Controller,
  name: string,
  extraLabels: Record<string, string>,
  nodeName: string | undefined,
  /** The namespace's LimitRanges: their defaults go into the pod (as k8s' admission does). */
  ranges: readonly LimitRange[] = [],
): Pod {
  const template = owner.spec.template;
  const spec = structuredClone(withLimitRangeDefaults(template.spec, ranges));
  if (nodeName) spec.nodeName = nodeName;
  else delete spec.nodeName;
  const pod: Pod = {
    apiVersion: API_VERSION.Pod,
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace!,
      uid: '',
      resourceVersion: '0',
      generation: 1,
      creationTimestamp: '',
      labels: { ...template.metadata?.labels, ...extraLabels },
      ownerReferences: [
        {
          apiVersion: API_VERSION[owner.kind],
          kind: owner.kind,
          name: owner.metadata.name,
          uid: owner.metadata.uid,
          controller: true,
        },
      ],
    },
    spec,
  };
  if (template.metadata?.annotations) pod.metadata.annotations = { ...template.metadata.annotations };
  return newMeta(pod);
}
