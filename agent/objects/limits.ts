// The bounds of the object API, in one place (README "Head API", "Limits"). Each is enforced before
// anything is written, so a refusal changes nothing in etcd, and each refusal names its limit.

// etcd refuses a request (a put, a transaction) over its `--max-request-bytes`, 1.5 MiB by default:
// the object and apply limits keep every write of the API under it.

/** An apply request's body (JSON). Read no further than this; checked against Content-Length first. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Nesting of arrays and objects in a request body, counted on the raw text before it is parsed (the
 * validators and serializers recurse, so a deeper document could exhaust the stack). The deepest
 * field nokube supports (a Deployment's node affinity values, under {documents: [...]}) is 14 deep.
 */
export const MAX_BODY_DEPTH = 32;

/**
 * One object as stored (its JSON, without status), and one status: a third of etcd's request limit.
 * Kubernetes bounds an object only by etcd's 1.5 MiB (its own API server refuses a body over 3 MiB).
 */
export const MAX_OBJECT_BYTES = 512 * 1024;

/** What one apply writes (the objects' JSON, in its one transaction): under etcd's request limit with
 * room for the keys and the compares of the same transaction. */
export const MAX_APPLY_BYTES = 1024 * 1024;

/**
 * Documents (objects) in one apply. kubectl sends one request per object and Kubernetes sets no
 * count; nokube applies them in one transaction, so this bounds the head's work for one request
 * (validation, one read per object). etcd's `--max-txn-ops` (128 by default) bounds the writes further.
 */
export const MAX_DOCUMENTS_PER_APPLY = 500;

/**
 * Containers in one pod (or pod template), and init containers apart. Kubernetes sets no count (a pod is
 * bounded by etcd's request size only); each is a Docker container on a small host, so nokube keeps it
 * sane.
 */
export const MAX_CONTAINERS_PER_POD = 64;

/** `512 KiB`, `8 MiB`: a limit as the README and the messages say it. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
