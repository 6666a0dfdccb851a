// Cordon (k8s node.spec.unschedulable), through the head:
//   POST   /api/v1/nodes/<name>/cordon   -> {node, cordoned: true, changed}
//   DELETE /api/v1/nodes/<name>/cordon   -> {node, cordoned: false, changed}
// The mark is an etcd key (agent/store/keys.ts `cordon`), not part of the node's record: the record is the
// agent's own (under its lease), a cordon outlives the agent's restarts. ACL: `nodes` write. A name that
// is not in the config's nodes is 404 (nothing written).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentContext } from '../../agent/context.ts';
import { keys } from '../../agent/store/keys.ts';
import { describeSubject } from '../acl/subject.ts';
import { authOf, authorizeRequest } from './auth/gate.ts';
import { HttpError } from './http-error.ts';
import { discardBody } from './request-body.ts';

const CORDON_PATH = /^\/api\/v1\/nodes\/([a-z0-9-]{1,63})\/cordon$/;

export const isCordonPath = (path: string): boolean => CORDON_PATH.test(path);

export interface CordonResult {
  node: string;
  cordoned: boolean;
  /** false: it already was (or was not) cordoned. */
  changed: boolean;
}

export async function serveCordon(
  ctx: AgentContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  const node = CORDON_PATH.exec(path)![1]!;
  authorizeRequest(req, { verb: 'update', resource: 'nodes', name: node });
  discardBody(req);
  if (req.method !== 'POST' && req.method !== 'DELETE') throw new HttpError(405, `${req.method} not allowed`);
  if (!ctx.config().nodes.some((n) => n.name === node))
    throw new HttpError(404, `node "${node}" is not in the cluster config`);
  const key = keys.cordon(ctx.cluster, node);
  let result: CordonResult;
  if (req.method === 'POST') {
    const value = JSON.stringify({
      since: new Date().toISOString(),
      by: describeSubject(authOf(req).subject),
    });
    // Only when absent: a second cordon keeps the first one's time.
    const txn = await ctx.etcd.if(key, 'Create', '==', 0).then(ctx.etcd.put(key).value(value)).commit();
    result = { node, cordoned: true, changed: txn.succeeded };
  } else {
    const del = await ctx.etcd.delete().key(key).exec();
    result = { node, cordoned: false, changed: Number(del.deleted) > 0 };
  }
  if (result.changed) ctx.log.info({ node }, result.cordoned ? 'node cordoned' : 'node uncordoned');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(result));
}
