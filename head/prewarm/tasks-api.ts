// The seed's REST API for prewarm tasks (seed 001), over ImagePrewarm objects (the object API serves
// them too: `nokube apply`, `get`, `delete`):
//   POST   /api/v1/prewarm/tasks                 {images, batchSize, nodeSelector?, affinity?, maxFailureRatio?,
//                                                 retries?, pullTimeoutSeconds?, priority?, imagePullSecrets?,
//                                                 name?, namespace?}
//                                                 -> 201 task (name: `prewarm-<5 chars>` when not given)
//   GET    /api/v1/prewarm/tasks?status=&namespace=&limit=&offset=   -> {items, total, limit, offset}
//   GET    /api/v1/prewarm/tasks/<id>?namespace=  -> task
//   DELETE /api/v1/prewarm/tasks/<id>?namespace=  -> cancel: the task's `spec.cancel` set (409 once finished)
// A task is the seed's `Task` (task-view.ts). Rights are the object API's on `imageprewarms` (create,
// list, get, update for a cancel) in the task's namespace.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentContext } from '../../agent/context.ts';
import { applyManifests, NotFoundError } from '../../agent/objects/apply.ts';
import { getObject, listObjects } from '../../agent/objects/store.ts';
import { DEFAULT_NAMESPACE, type ImagePrewarm, type ImagePrewarmSpec } from '../../agent/objects/types.ts';
import { validateDocuments } from '../../agent/objects/validate.ts';
import { authorizeRequest } from '../api/auth/gate.ts';
import { HttpError } from '../api/http-error.ts';
import { send, sendObjectError } from '../api/objects.ts';
import { readJsonBody } from '../api/request-body.ts';
import { randomSuffix } from '../controllers/pod-template.ts';
import { isFinished } from './defaults.ts';
import { TASK_STATUSES, type TaskStatus, taskStatusOf, taskView } from './task-view.ts';

const TASKS = '/api/v1/prewarm/tasks';
const RESOURCE = 'imageprewarms';
/** Tasks per page when `limit` is not given, and at most. */
export const PAGE = { default: 20, max: 100 } as const;
const SPEC_FIELDS = [
  'images',
  'batchSize',
  'nodeSelector',
  'affinity',
  'maxFailureRatio',
  'retries',
  'pullTimeoutSeconds',
  'priority',
  'imagePullSecrets',
] as const satisfies ReadonlyArray<keyof ImagePrewarmSpec>;

export const isPrewarmPath = (path: string): boolean => path === TASKS || path.startsWith(`${TASKS}/`);

export async function servePrewarmTasks(
  ctx: AgentContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://head');
    const namespace = url.searchParams.get('namespace') || DEFAULT_NAMESPACE;
    const id = url.pathname === TASKS ? undefined : decodeURIComponent(url.pathname.slice(TASKS.length + 1));
    if (id !== undefined && (id === '' || id.includes('/')))
      throw new HttpError(404, `no route ${url.pathname}`);
    if (id === undefined && req.method === 'POST') return send(res, 201, await create(ctx, req));
    if (id === undefined && req.method === 'GET')
      return send(res, 200, await list(ctx, req, url.searchParams));
    if (id !== undefined && req.method === 'GET') {
      authorizeRequest(req, { verb: 'get', resource: RESOURCE, namespace, name: id });
      return send(res, 200, taskView(await read(ctx, namespace, id)));
    }
    if (id !== undefined && req.method === 'DELETE')
      return send(res, 200, await cancel(ctx, req, namespace, id));
    throw new HttpError(405, `${req.method} not allowed`);
  } catch (err) {
    sendObjectError(req, res, err);
  }
}

async function read(ctx: AgentContext, namespace: string, name: string): Promise<ImagePrewarm> {
  const stored = await getObject(ctx.etcd, ctx.cluster, { kind: 'ImagePrewarm', namespace, name });
  if (!stored) throw new NotFoundError(`prewarm task "${name}" not found in namespace ${namespace}`);
  return stored.object;
}

async function create(ctx: AgentContext, req: IncomingMessage) {
  const body = await readJsonBody(req);
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'expected a JSON object: {"images": [...], "batchSize": N, ...}');
  const b = body as Record<string, unknown>;
  const known = new Set<string>([...SPEC_FIELDS, 'name', 'namespace']);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new HttpError(
      400,
      `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${[...known].join(', ')})`,
    );
  const spec = Object.fromEntries(SPEC_FIELDS.filter((f) => b[f] !== undefined).map((f) => [f, b[f]]));
  const document = {
    apiVersion: 'nokube.io/v1',
    kind: 'ImagePrewarm',
    metadata: { name: b.name ?? `prewarm-${randomSuffix()}`, namespace: b.namespace ?? DEFAULT_NAMESPACE },
    spec,
  };
  const manifests = validateDocuments([{ source: 'request', document: 1, value: document }]);
  const [result] = await applyManifests(ctx.etcd, ctx.cluster, manifests, 'prewarm-api', {
    create: true,
    authorize: (results) => {
      for (const r of results)
        authorizeRequest(req, {
          verb: 'create',
          resource: RESOURCE,
          namespace: r.namespace ?? DEFAULT_NAMESPACE,
          name: r.name,
        });
    },
  });
  ctx.log.info({ task: result!.name, namespace: result!.namespace }, 'prewarm task created');
  return taskView(result!.object as ImagePrewarm);
}

async function list(ctx: AgentContext, req: IncomingMessage, q: URLSearchParams) {
  const namespace = q.get('namespace') || undefined;
  authorizeRequest(req, { verb: 'list', resource: RESOURCE, ...(namespace ? { namespace } : {}) });
  const status = q.get('status');
  if (status !== null && !TASK_STATUSES.includes(status as TaskStatus))
    throw new HttpError(400, `status must be one of ${TASK_STATUSES.join(', ')}, got "${status}"`);
  const limit = whole(q, 'limit', PAGE.default, 1, PAGE.max);
  const offset = whole(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const all = (await listObjects(ctx.etcd, ctx.cluster, 'ImagePrewarm', namespace))
    .map((s) => s.object)
    .filter((t) => status === null || taskStatusOf(t) === status)
    // Newest first.
    .sort(
      (a, b) =>
        (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  return { items: all.slice(offset, offset + limit).map(taskView), total: all.length, limit, offset };
}

function whole(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new HttpError(400, `${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
}

async function cancel(ctx: AgentContext, req: IncomingMessage, namespace: string, name: string) {
  authorizeRequest(req, { verb: 'update', resource: RESOURCE, namespace, name });
  const stored = await getObject(ctx.etcd, ctx.cluster, { kind: 'ImagePrewarm', namespace, name });
  if (!stored) throw new NotFoundError(`prewarm task "${name}" not found in namespace ${namespace}`);
  const task = stored.object;
  if (isFinished(task.status?.phase))
    throw new HttpError(409, `prewarm task "${name}" is ${taskStatusOf(task)}: nothing to cancel`);
  if (task.spec.cancel) return taskView(task);
  const { labels, annotations } = task.metadata;
  const document = {
    apiVersion: 'nokube.io/v1',
    kind: 'ImagePrewarm',
    metadata: { name, namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: { ...task.spec, cancel: true },
  };
  const manifests = validateDocuments([{ source: 'request', document: 1, value: document }]);
  // Only while the task is as read (a concurrent change: 409, the client asks again).
  const [result] = await applyManifests(ctx.etcd, ctx.cluster, manifests, 'prewarm-api', {
    expect: [stored.modRevision],
  });
  ctx.log.info({ task: name, namespace }, 'prewarm task cancel asked');
  return taskView({ ...(result!.object as ImagePrewarm), ...(task.status ? { status: task.status } : {}) });
}
