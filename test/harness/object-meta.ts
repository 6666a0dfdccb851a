// Server-set metadata for objects tests build by hand (pure planners, fake lookups): namespace
// "default" unless given, uid = name, revision 1.
import type { ObjectMeta } from '../../agent/objects/types.ts';

export function objectMeta(name: string, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  const revision = { resourceVersion: '1', generation: 1, creationTimestamp: '' };
  return { name, namespace: 'default', uid: name, ...revision, ...extra };
}
