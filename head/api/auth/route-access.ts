// What each head route needs (README "Access control"). Routes whose need depends on the request (the
// object API, apply, the ACL API) check it in their handler; these are the rest, and the WebSockets.
import { SECRET_VALUES } from '../../acl/policy.ts';
import type { AccessRequest } from '../../acl/subject.ts';

/** Anonymous even with ACL on: health checks, Prometheus scrapers (metrics hold no secret, as the agents'
 * own /metrics), and the console page, which holds no data and asks for a token. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/ui']);

const NODES_READ: AccessRequest = { verb: 'get', resource: 'nodes' };
const CONFIG_READ: AccessRequest = { verb: 'get', resource: 'config' };

/** The rights of a plain GET route (undefined: its handler checks, or it is public). */
export function routeAccess(path: string, url: URL): AccessRequest[] | undefined {
  if (PUBLIC_ROUTES.has(path)) return undefined;
  if (path === '/api/v1/config' || path.startsWith('/dashboards/') || path.startsWith('/provisioning/'))
    return [CONFIG_READ];
  // Who did what: for those who may read the ACL (readonly may not).
  if (path === '/api/v1/audit') return [{ verb: 'get', resource: 'acl' }];
  if (path === '/api/v1/top/pods') {
    const namespace = url.searchParams.get('namespace') || undefined;
    return [{ verb: 'list', resource: 'pods', ...(namespace ? { namespace } : {}) }];
  }
  // status, nodes, members, kubecontroller, top nodes: views of the cluster's nodes.
  return [NODES_READ];
}

/** Secret values asked for (`?secrets=show` on Secrets) need their own right. */
export function secretValuesAccess(
  resource: string,
  verb: AccessRequest['verb'],
  namespace?: string,
  show = false,
): AccessRequest[] {
  return resource === 'secrets' && show
    ? [{ verb, resource: SECRET_VALUES, ...(namespace === undefined ? {} : { namespace }) }]
    : [];
}

const POD_STREAM = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec)$/;

/** The rights of a WebSocket: the event stream, an object watch, or a pod stream. */
export function streamAccess(url: URL): AccessRequest[] {
  const path = url.pathname;
  if (path === '/api/v1/watch') return [{ verb: 'watch', resource: 'nodes' }];
  const pod = POD_STREAM.exec(path);
  if (pod) {
    // As the handler reads them (pod-streams.ts: not decoded), so the check is on what it serves.
    const [, namespace, name, what] = pod;
    return [{ verb: what === 'log' ? 'logs' : 'exec', resource: 'pods', namespace: namespace!, name: name! }];
  }
  // /api/v1/watch/<resource>?namespace=
  const resource = path.split('/').at(-1)!;
  // Namespaces are not in a namespace: watching them is watching all (object-watch.ts ignores the parameter).
  const namespace = resource === 'namespaces' ? undefined : url.searchParams.get('namespace') || undefined;
  const ns = namespace === undefined ? {} : { namespace };
  return [
    { verb: 'watch', resource, ...ns },
    ...secretValuesAccess(resource, 'watch', namespace, url.searchParams.get('secrets') === 'show'),
  ];
}
