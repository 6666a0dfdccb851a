// How kubectl names resources and objects in its output and errors (no validator here: the CLI's `get`
// uses them without loading the schemas).
import type { ObjectRef } from './store.ts';
import { API_VERSION, DEFAULT_NAMESPACE, type Kind, type KubeObject, namespaced, RESOURCE } from './types.ts';

/** `deployments.apps`, `pods`: the resource as kubectl prints it in errors. */
export function resourceWithGroup(kind: Kind): string {
  const group = API_VERSION[kind].includes('/') ? `.${API_VERSION[kind].split('/')[0]}` : '';
  return `${RESOURCE[kind]}${group}`;
}

/** `deployment.apps/web`: how kubectl names an object in apply/delete output. */
export function objectName(ref: Pick<ObjectRef, 'kind' | 'name'>): string {
  const group = resourceWithGroup(ref.kind).split('.').slice(1).join('.');
  return `${ref.kind.toLowerCase()}${group ? `.${group}` : ''}/${ref.name}`;
}

/** `deployments.apps "web"` in namespace ns, as kubectl names an object in messages. */
export function describeObject(obj: KubeObject | (ObjectRef & { metadata?: undefined })): string {
  const ref = 'metadata' in obj && obj.metadata ? { kind: obj.kind, ...obj.metadata } : (obj as ObjectRef);
  const what = `${resourceWithGroup(ref.kind)} "${ref.name}"`;
  return namespaced(ref.kind) ? `${what} in namespace ${ref.namespace ?? DEFAULT_NAMESPACE}` : what;
}
