// The ACL API, used by `nokube acl policy|token` and `nokube login`:
//   GET    /api/v1/acl/policies            GET|DELETE /api/v1/acl/policies/<name>
//   POST   /api/v1/acl/policies  {policy document}                  -> {name, outcome}
//   GET    /api/v1/acl/tokens              GET|DELETE /api/v1/acl/tokens/<accessor>
//   POST   /api/v1/acl/tokens    {name, description?, policies, ttlSeconds?} -> {secret, token}
//   GET    /api/v1/acl/denied-certificates   DELETE /api/v1/acl/denied-certificates/<serial>
//   POST   /api/v1/acl/denied-certificates {serial, name?, reason?}   -> {outcome, certificate}
//   GET    /api/v1/acl/self      the caller's own token (any valid token), or its client certificate
// Reading needs `acl: read`, changing `acl: write`. A secret leaves the head once, in the answer to the
// create that made it; a token is named by its accessor everywhere else.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentContext } from '../../../agent/context.ts';
import {
  allowCertificate,
  applyPolicy,
  createToken,
  deletePolicy,
  denyCertificate,
  findToken,
  getPolicy,
  listDeniedCertificates,
  listPolicies,
  listTokens,
  revokeToken,
} from '../../acl/store.ts';
import { type TokenRequest, tokenInfo } from '../../acl/token.ts';
import { HttpError } from '../http-error.ts';
import { readJsonBody } from '../request-body.ts';
import { authOf, authorizeRequest } from './gate.ts';

const PREFIX = '/api/v1/acl/';

export const isAclPath = (path: string): boolean => path.startsWith(PREFIX);

const ACL_READ = { verb: 'get', resource: 'acl' } as const;
const ACL_WRITE = { verb: 'update', resource: 'acl' } as const;

/** The answer's body; HttpError for a refusal. */
export async function serveAcl(
  ctx: AgentContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<unknown> {
  const { etcd, cluster } = ctx;
  const url = new URL(req.url ?? '/', 'http://head');
  const [what, id, ...rest] = url.pathname.slice(PREFIX.length).split('/').map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const now = Date.now();
  if (rest.length > 0 || !what) throw new HttpError(404, `no route ${url.pathname}`);
  if (what === 'self' && id === undefined && method === 'GET') {
    const { subject, enforced } = authOf(req);
    if (!enforced) return { enforced: false };
    if (subject.kind === 'certificate') {
      const { name, serial, policies } = subject;
      return { enforced: true, certificate: { name, serial, policies: policies.map((p) => p.name) } };
    }
    if (subject.kind !== 'token') throw new HttpError(401, 'no token was sent');
    return { enforced: true, token: tokenInfo(await findToken(etcd, cluster, subject.accessor), now) };
  }
  if (what === 'policies') {
    if (method === 'GET') {
      authorizeRequest(req, ACL_READ);
      return id === undefined ? { items: await listPolicies(etcd, cluster) } : getPolicy(etcd, cluster, id);
    }
    authorizeRequest(req, ACL_WRITE);
    if (method === 'POST' && id === undefined) {
      const body = (await readJsonBody(req)) as { name?: unknown };
      const outcome = await applyPolicy(etcd, cluster, body);
      ctx.log.info({ policy: body?.name, outcome }, 'acl policy applied');
      return { name: body.name, outcome };
    }
    if (method === 'DELETE' && id !== undefined) {
      await deletePolicy(etcd, cluster, id);
      ctx.log.info({ policy: id }, 'acl policy deleted');
      return { name: id, outcome: 'deleted' };
    }
  }
  if (what === 'tokens') {
    if (method === 'GET') {
      authorizeRequest(req, ACL_READ);
      if (id !== undefined) return tokenInfo(await findToken(etcd, cluster, id), now);
      return { items: (await listTokens(etcd, cluster)).map((t) => tokenInfo(t, now)) };
    }
    authorizeRequest(req, ACL_WRITE);
    if (method === 'POST' && id === undefined) {
      const { secret, record } = await createToken(etcd, cluster, (await readJsonBody(req)) as TokenRequest);
      ctx.log.info(
        { accessor: record.accessor, token: record.name, policies: record.policies },
        'acl token created',
      );
      res.setHeader('cache-control', 'no-store');
      return { secret, token: tokenInfo(record, now) };
    }
    if (method === 'DELETE' && id !== undefined) {
      const t = await revokeToken(etcd, cluster, id);
      ctx.log.info({ accessor: t.accessor, token: t.name }, 'acl token revoked');
      return { accessor: t.accessor, name: t.name, outcome: 'revoked' };
    }
  }
  if (what === 'denied-certificates') {
    if (method === 'GET' && id === undefined) {
      authorizeRequest(req, ACL_READ);
      return { items: await listDeniedCertificates(etcd, cluster) };
    }
    authorizeRequest(req, ACL_WRITE);
    if (method === 'POST' && id === undefined) {
      const { outcome, record } = await denyCertificate(etcd, cluster, await readJsonBody(req));
      ctx.log.info({ serial: record.serial, certificate: record.name, outcome }, 'acl certificate denied');
      return { outcome, certificate: record };
    }
    if (method === 'DELETE' && id !== undefined) {
      const serial = await allowCertificate(etcd, cluster, id);
      ctx.log.info({ serial }, 'acl certificate allowed again');
      return { serial, outcome: 'allowed' };
    }
  }
  throw new HttpError(method === 'GET' ? 404 : 405, `${method} ${url.pathname} is not a route`);
}
