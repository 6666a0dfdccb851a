// The head's object API, used by `nokube apply/get/describe/delete`:
//   POST   /api/v1/apply  (application/json)              {documents, dryRun?, expect?} -> {items: ApplyResult[]}
//          (expect: per document the resourceVersion it must still have, else 409: read-modify-write)
//   GET    /api/v1/objects/<resource>?namespace=&labelSelector=&secrets=show   -> List
//   GET    /api/v1/objects/<resource>/<ns>/<name>          (Namespace: /api/v1/objects/namespaces/<name>)
//   DELETE /api/v1/objects/<resource>/<ns>/<name>?ignoreNotFound=true&dryRun=true&gracePeriodSeconds=N
//          (pods: graceful, agent/objects/pod-deletion.ts)
//   GET    /api/v1/objects/<resource>/<ns>/<name>/events
//   POST   /api/v1/objects/pods/<ns>/<name>/eviction     (policy/v1 Eviction: a delete held back by
//          PodDisruptionBudgets, 429 when one would be violated: pod-eviction.ts)
//   WS     /api/v1/watch/<resource>?namespace=&labelSelector=&resourceVersion=   (get -w: object-watch.ts)
// Secret data leaves the head only with ?secrets=show; otherwise each value is replaced by its size.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentContext } from '../../agent/context.ts';
import { applyManifests, deleteObject, NotFoundError } from '../../agent/objects/apply.ts';
import { listEvents } from '../../agent/objects/events.ts';
import { describeObject, resourceWithGroup } from '../../agent/objects/kubectl-names.ts';
import { labelsMatch, parseLabelQuery, SelectorSyntaxError } from '../../agent/objects/label-query.ts';
import { getObject, listObjectsAt, ObjectConflictError, type ObjectRef } from '../../agent/objects/store.ts';
import {
  BUILTIN_NAMESPACES,
  DEFAULT_NAMESPACE,
  isBuiltinNamespace,
  KINDS,
  type Kind,
  type KubeObject,
  namespaced,
  RESOURCE,
  type Secret,
} from '../../agent/objects/types.ts';
import { checkDocumentCount, ManifestError, validateDocuments } from '../../agent/objects/validate.ts';
import { EnvelopeError, UnknownKeyError } from '../../agent/secrets/envelope.ts';
import { secretsKeyring } from '../../agent/secrets/process-keyring.ts';
import { NoSecretsKeyError, sealedProblem } from '../../agent/secrets/sealed-secret.ts';
import { compareText } from '../../agent/text/compare.ts';
import { authorize, isManagement } from '../acl/authorize.ts';
import type { AccessRequest } from '../acl/subject.ts';
import { baselineRefusal } from '../admission/pod-security.ts';
import { authOf, authorizeRequest } from './auth/gate.ts';
import { secretValuesAccess } from './auth/route-access.ts';
import { HttpError } from './http-error.ts';
import { evictPod } from './pod-eviction.ts';
import { discardBody, readJsonBody } from './request-body.ts';

const KIND_OF_RESOURCE = new Map(KINDS.map((k) => [RESOURCE[k], k]));

export const isObjectsPath = (path: string): boolean =>
  path === '/api/v1/apply' || path.startsWith('/api/v1/objects/');

export async function serveObjects(
  ctx: AgentContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://head');
    if (url.pathname === '/api/v1/apply') {
      if (req.method !== 'POST') throw new HttpError(405, `${req.method} not allowed`);
      return send(res, 200, await apply(ctx, req, await readJsonBody(req)));
    }
    const { kind, ref, events, eviction } = parseObjectPath(url.pathname);
    const showSecrets = url.searchParams.get('secrets') === 'show';
    const resource = RESOURCE[kind];
    if (req.method === 'GET' && !ref) {
      const namespace = !namespaced(kind) ? undefined : url.searchParams.get('namespace') || undefined;
      authorizeRequest(req, ...access('list', resource, namespace, showSecrets));
      return send(res, 200, await list(ctx, kind, url.searchParams, showSecrets));
    }
    if (!ref) throw new HttpError(405, `${req.method} not allowed on a list`);
    // A Namespace is checked as the namespace it is; a PriorityClass in none (cluster-wide).
    const namespace = whereOf(ref);
    const ns = namespace === undefined ? {} : { namespace };
    if (eviction) {
      if (req.method !== 'POST') throw new HttpError(405, `${req.method} not allowed on an eviction`);
      // Evicting is deleting, held back by disruption budgets: the same right.
      authorizeRequest(req, { verb: 'delete', resource, ...ns, name: ref.name });
      const grace = evictionGrace(await readJsonBody(req));
      const result = await evictPod(
        ctx.etcd,
        ctx.cluster,
        ref as ObjectRef & { kind: 'Pod'; namespace: string },
        {
          ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
        },
      );
      ctx.log.info(
        { object: describeObject(ref), budget: result.budget, outcome: result.outcome },
        'pod evicted',
      );
      return send(res, 201, result);
    }
    if (req.method === 'GET' && events) {
      authorizeRequest(req, { verb: 'get', resource, ...ns, name: ref.name });
      return send(res, 200, { items: await listEvents(ctx.etcd, ctx.cluster, ref) });
    }
    if (req.method === 'GET') {
      authorizeRequest(req, ...access('get', resource, namespace, showSecrets, ref.name));
      const stored = await getObject(ctx.etcd, ctx.cluster, ref);
      const object = stored?.object ?? (isImplicit(ref) ? implicitNamespace(ref.name) : null);
      if (!object) throw new NotFoundError(notFound(ref));
      return send(res, 200, showSecrets ? opened(object) : redact(object));
    }
    if (req.method === 'DELETE') {
      authorizeRequest(req, { verb: 'delete', resource, ...ns, name: ref.name });
      const q = url.searchParams;
      const grace = gracePeriodOf(q);
      const result = await deleteObject(ctx.etcd, ctx.cluster, ref, {
        ignoreNotFound: q.get('ignoreNotFound') === 'true',
        dryRun: q.get('dryRun') === 'true',
        ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
      });
      if (result.deleted)
        ctx.log.info(
          { object: describeObject(ref), dryRun: q.get('dryRun') === 'true', gracePeriodSeconds: grace },
          'object deleted',
        );
      return send(res, 200, result);
    }
    throw new HttpError(405, `${req.method} not allowed`);
  } catch (err) {
    sendObjectError(req, res, err);
  }
}

/** The answer to a failed object request (the prewarm tasks API's too); anything else is thrown on. */
export function sendObjectError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const [status, body] = objectErrorAnswer(req, err);
  send(res, status, body);
}

function objectErrorAnswer(req: IncomingMessage, err: unknown): [number, unknown] {
  if (err instanceof HttpError) {
    // A body refused as too large is not kept: the rest is dropped as it comes (bounded: beyond that the
    // connection is cut). Closing at once would reset a client still sending before it read the answer.
    if (err.status === 413) discardBody(req);
    return [err.status, { error: err.message, problems: err.problems }];
  }
  if (err instanceof ManifestError) return [400, { error: err.problems[0], problems: err.problems }];
  if (err instanceof NotFoundError) return [404, { error: err.message }];
  if (err instanceof ObjectConflictError) return [409, { error: err.message }];
  if (err instanceof SelectorSyntaxError) return [400, { error: err.message }];
  // This head lacks the key of a Secret (or any key): said so, never answered with ciphertext.
  if (err instanceof NoSecretsKeyError || err instanceof UnknownKeyError || err instanceof EnvelopeError)
    return [500, { error: err.message }];
  throw err;
}

/** `?gracePeriodSeconds=N` (k8s DeleteOptions): a whole number of seconds, 0 = at once (force). */
function gracePeriodOf(q: URLSearchParams): number | undefined {
  const v = q.get('gracePeriodSeconds');
  if (v === null) return undefined;
  if (!/^\d{1,9}$/.test(v))
    throw new HttpError(400, `gracePeriodSeconds must be a whole number of seconds (0 or more), got "${v}"`);
  return Number(v);
}

/** A read of `resource` (and of Secret values with `?secrets=show`). */
function access(
  verb: AccessRequest['verb'],
  resource: string,
  namespace: string | undefined,
  showSecrets: boolean,
  name?: string,
): AccessRequest[] {
  const where = {
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
  };
  return [{ verb, resource, ...where }, ...secretValuesAccess(resource, verb, namespace, showSecrets)];
}

/** Where an applied object is checked: its namespace (a Namespace: itself). */
const whereOf = (r: { kind: Kind; namespace?: string; name: string }): string | undefined =>
  r.kind === 'Namespace' ? r.name : namespaced(r.kind) ? (r.namespace ?? DEFAULT_NAMESPACE) : undefined;

/** Before anything is read: a subject that may neither create nor update the documents' resources
 * where they go learns nothing about what exists there. (The exact check, create or update, comes with
 * the plan; only a refusal here is told to the gate's observers.) */
function mayWrite(req: IncomingMessage, kind: Kind, namespace: string | undefined, name: string): void {
  const { subject, enforced } = authOf(req);
  const target = { resource: RESOURCE[kind], ...(namespace === undefined ? {} : { namespace }), name };
  if (!enforced || authorize(subject, { verb: 'update', ...target }).allowed) return;
  authorizeRequest(req, { verb: 'create', ...target });
}

async function apply(ctx: AgentContext, req: IncomingMessage, body: unknown): Promise<unknown> {
  const b = body as { documents?: unknown; dryRun?: unknown; by?: unknown };
  if (!b || !Array.isArray(b.documents))
    throw new HttpError(400, 'expected {"documents": [...], "dryRun"?: boolean}');
  checkDocumentCount(b.documents.length);
  const origins = Array.isArray((b as { origins?: unknown }).origins)
    ? (b as { origins: unknown[] }).origins
    : [];
  const manifests = validateDocuments(
    b.documents.map((value, i) => {
      const o = origins[i] as { source?: unknown; document?: unknown; item?: unknown } | undefined;
      return {
        source: typeof o?.source === 'string' ? o.source : 'request',
        document: typeof o?.document === 'number' ? o.document : i + 1,
        ...(typeof o?.item === 'number' ? { item: o.item } : {}),
        value,
      };
    }),
  );
  const by = typeof b.by === 'string' ? b.by : 'api';
  const expect = (b as { expect?: unknown }).expect;
  if (
    expect !== undefined &&
    !(Array.isArray(expect) && expect.every((v) => v === null || (typeof v === 'string' && /^\d+$/.test(v))))
  )
    throw new HttpError(400, 'expect: a list of resourceVersions (or null), one per document');
  for (const m of manifests) {
    const o = m.object;
    mayWrite(
      req,
      o.kind,
      whereOf({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name }),
      o.metadata.name,
    );
  }
  admit(
    ctx,
    req,
    manifests.map((m) => m.object),
  );
  const items = await applyManifests(ctx.etcd, ctx.cluster, manifests, by, {
    dryRun: b.dryRun === true,
    create: (b as { create?: unknown }).create === true,
    ...(expect ? { expect: (expect as Array<string | null>).map((v) => v ?? undefined) } : {}),
    // Each object as the plan found it: absent needs `create`, present `update` (unchanged too: the
    // request asked to change it).
    authorize: (results) => {
      for (const r of results)
        authorizeRequest(req, {
          verb: r.action === 'created' ? 'create' : 'update',
          resource: RESOURCE[r.kind],
          ...(whereOf(r) === undefined ? {} : { namespace: whereOf(r) }),
          name: r.name,
        });
    },
  });
  const changed = items.filter((i) => i.action !== 'unchanged').map((i) => i.text);
  if (changed.length > 0 && b.dryRun !== true) ctx.log.info({ by, changed }, 'applied');
  return { items: items.map((i) => ({ ...i, object: redact(i.object) })) };
}

/** Pod Security "baseline" (head/admission/pod-security.ts) for every request with ACL on that is not an
 * ops-admin's: all refusals at once, nothing written. */
function admit(ctx: AgentContext, req: IncomingMessage, objects: KubeObject[]): void {
  const { subject, enforced } = authOf(req);
  if (!enforced || isManagement(subject)) return;
  const rules = ctx.config().admission;
  const refusals = objects
    .map((o) => baselineRefusal(`${resourceWithGroup(o.kind)} "${o.metadata.name}"`, o, rules))
    .filter((r): r is string => r !== undefined);
  if (refusals.length > 0)
    throw new HttpError(403, refusals.map((r) => `Error from server (Forbidden): ${r}`).join('\n'));
}

async function list(ctx: AgentContext, kind: Kind, q: URLSearchParams, showSecrets: boolean) {
  const namespace = q.get('namespace') || undefined;
  const selector = q.get('labelSelector') ?? undefined;
  if (selector) parseLabelQuery(selector);
  // Objects and statuses as of one revision: a watch from revision+1 misses nothing and repeats nothing.
  const { items: listed, revision } = await listObjectsAt(ctx.etcd, ctx.cluster, kind, namespace);
  const stored = listed.map((s) => s.object);
  if (kind === 'Namespace') {
    const missing = BUILTIN_NAMESPACES.filter((n) => !stored.some((o) => o.metadata.name === n));
    stored.push(...missing.map(implicitNamespace));
    stored.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  }
  const items = stored
    .filter((o) => labelsMatch(selector, o.metadata.labels))
    .map((o) => (showSecrets ? opened(o) : redact(o)));
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: revision }, items };
}

function parseObjectPath(path: string): { kind: Kind; ref?: ObjectRef; events: boolean; eviction: boolean } {
  const parts = path.slice('/api/v1/objects/'.length).split('/').map(decodeURIComponent);
  const kind = KIND_OF_RESOURCE.get(parts[0]!);
  if (!kind)
    throw new HttpError(
      404,
      `unknown resource "${parts[0]}" (known: ${[...KIND_OF_RESOURCE.keys()].join(', ')})`,
    );
  const rest = parts.slice(1);
  const sub = rest.length === (namespaced(kind) ? 3 : 2) ? rest.at(-1) : undefined;
  const events = sub === 'events';
  const eviction = sub === 'eviction' && kind === 'Pod';
  if (events || eviction) rest.pop();
  if (rest.length === 0) return { kind, events: false, eviction: false };
  if (namespaced(kind) && rest.length === 2)
    return { kind, ref: { kind, namespace: rest[0]!, name: rest[1]! }, events, eviction };
  if (!namespaced(kind) && rest.length === 1)
    return { kind, ref: { kind, name: rest[0]! }, events, eviction };
  throw new HttpError(404, `no route ${path}`);
}

/** An eviction's body: k8s' Eviction (policy/v1), whose deleteOptions may carry gracePeriodSeconds. */
function evictionGrace(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'an eviction is a JSON object (policy/v1 Eviction)');
  const { apiVersion, kind, metadata, deleteOptions, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new HttpError(400, `an eviction has no field "${extra[0]}"`);
  if (apiVersion !== undefined && apiVersion !== 'policy/v1')
    throw new HttpError(400, 'an eviction is apiVersion policy/v1');
  if (kind !== undefined && kind !== 'Eviction') throw new HttpError(400, 'an eviction is kind Eviction');
  void metadata;
  if (deleteOptions === undefined) return undefined;
  const grace = (deleteOptions as { gracePeriodSeconds?: unknown }).gracePeriodSeconds;
  if (grace === undefined) return undefined;
  if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0)
    throw new HttpError(
      400,
      'deleteOptions.gracePeriodSeconds must be a whole number of seconds (0 or more)',
    );
  return grace;
}

const notFound = (ref: ObjectRef) => `${describeObject(ref).replace(/ in namespace default$/, '')} not found`;
const isImplicit = (ref: ObjectRef) => ref.kind === 'Namespace' && isBuiltinNamespace(ref.name);
/** "default", "kube-public" and "kube-system" always exist, stored or not. */
function implicitNamespace(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: '',
      resourceVersion: '0',
      generation: 1,
      creationTimestamp: '',
    },
    status: { phase: 'Active' },
  };
}

/** A Secret whose data this head cannot decrypt is an error to show (the key id says which key is
 * missing); redacted it lists as having no data. */
function opened(obj: KubeObject): KubeObject {
  const problem = obj.kind === 'Secret' ? sealedProblem(obj, secretsKeyring()) : undefined;
  if (problem) throw new HttpError(500, problem);
  return obj;
}

/** Secret values replaced by `<N bytes>` (not base64: a redacted Secret can never be applied back). */
export function redact(obj: KubeObject): KubeObject {
  if (obj.kind !== 'Secret') return obj;
  if (!obj.data) {
    // Still sealed here (no key for it): its envelope is not shown either.
    const { sealed: _sealed, ...rest } = obj as Secret & { sealed?: unknown };
    return rest as KubeObject;
  }
  const data = Object.fromEntries(
    Object.entries(obj.data).map(([k, v]) => [k, `<${Buffer.from(v, 'base64').length} bytes>`]),
  );
  return { ...obj, data };
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
