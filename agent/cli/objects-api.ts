// Paths of the head's object API (head/api/objects.ts) and kind words as kubectl accepts them.
import type { ObjectRef } from '../objects/store.ts';
import { DEFAULT_NAMESPACE, KIND_ALIASES, type Kind, namespaced, RESOURCE } from '../objects/types.ts';
import { UsageError } from './output.ts';

export function resolveKind(word: string): Kind {
  const lower = word.toLowerCase();
  const kind = KIND_ALIASES[lower] ?? KIND_ALIASES[lower.split('.')[0]!];
  if (!kind)
    throw new UsageError(
      `the server doesn't have a resource type "${word}" (known: nodes, ${Object.values(RESOURCE).join(', ')})`,
    );
  return kind;
}

export function refFor(kind: Kind, name: string, namespace: string | undefined): ObjectRef {
  return namespaced(kind) ? { kind, namespace: namespace ?? DEFAULT_NAMESPACE, name } : { kind, name };
}

export function objectPath(ref: ObjectRef): string {
  const parts = [
    RESOURCE[ref.kind],
    ...(namespaced(ref.kind) ? [ref.namespace ?? DEFAULT_NAMESPACE] : []),
    ref.name,
  ];
  return `/api/v1/objects/${parts.map(encodeURIComponent).join('/')}`;
}

export function query(params: Record<string, string | undefined | false>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
