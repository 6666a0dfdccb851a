// Paths of the head's object API (head/api/objects.ts) and kind words as kubectl accepts them.

import { UsageError } from '../../agent/errors.ts';
import type { ObjectRef } from '../../agent/objects/store.ts';
import {
  DEFAULT_NAMESPACE,
  KIND_ALIASES,
  type Kind,
  namespaced,
  RESOURCE,
} from '../../agent/objects/types.ts';

export function resolveKind(word: string): Kind {
  const lower = word.toLowerCase();
  const kind = KIND_ALIASES[lower] ?? KIND_ALIASES[lower.split('.')[0]!];
  if (!kind)
    throw new UsageError(
      `the server doesn't have a resource type "${word}" (known: nodes, ${Object.values(RESOURCE).join(', ')})`,
    );
  return kind;
}

const TYPE_NAME_TWICE =
  'there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. nokube get pod/web-1 instead of nokube get pod pod/web-1)';

/**
 * kubectl's two spellings of one object: `<type> <name>` or `<type>/<name>` (what `get -o name` prints).
 * Returns the type word and the name (undefined when neither spelling gave one).
 */
export function typeAndName(first: string, second: string | undefined): [string, string | undefined] {
  const slash = first.indexOf('/');
  if (second?.includes('/')) throw new UsageError(TYPE_NAME_TWICE);
  if (slash < 0) return [first, second];
  if (second !== undefined) throw new UsageError(TYPE_NAME_TWICE);
  const name = first.slice(slash + 1);
  if (!name) throw new UsageError(`"${first}": no name after the "/"`);
  return [first.slice(0, slash), name];
}

/** Many words, all `<type>/<name>` (kubectl delete pod/a deployment/b). */
export function typeNames(words: string[]): Array<[string, string]> {
  return words.map((w) => {
    const [type, name] = typeAndName(w, undefined);
    if (name === undefined) throw new UsageError(TYPE_NAME_TWICE);
    return [type, name];
  });
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
