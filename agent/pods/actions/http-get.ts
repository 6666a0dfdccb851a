// HTTP(S) GET on the pod (host network: the node address unless `host` says otherwise); 200 to 399 is
// success, as in k8s. A redirect is not followed (k8s follows one to the same host): 3xx is success.
// As the kubelet: a new connection each time (no keep-alive), HTTPS without certificate verification
// (the pod's own certificate is rarely one the node could verify), `User-Agent: kube-probe/nokube`
// unless httpHeaders set one. The body is not read.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LifecycleHandler } from '../../objects/types.ts';
import { type ActionTarget, hostPort, noSuchPort, resolvePort } from './target.ts';

type HttpGet = NonNullable<LifecycleHandler['httpGet']>;

export function httpGetAction(
  target: ActionTarget,
  get: HttpGet,
  signal: AbortSignal,
): Promise<string | undefined> {
  const port = resolvePort(target, get.port);
  if (port === undefined) return Promise.resolve(noSuchPort(target, get.port));
  const host = get.host ?? target.deps.address;
  const path = `${get.path?.startsWith('/') ? '' : '/'}${get.path ?? ''}`;
  const https = get.scheme === 'HTTPS';
  const url = `${https ? 'https' : 'http'}://${hostPort(host, port)}${path}`;
  const headers: OutgoingHttpHeaders = { 'user-agent': 'kube-probe/nokube', accept: '*/*' };
  const given = new Map<string, string[]>();
  for (const h of get.httpHeaders ?? []) {
    const name = h.name.toLowerCase();
    given.set(name, [...(given.get(name) ?? []), h.value]);
  }
  for (const [name, values] of given) headers[name] = values.length === 1 ? values[0] : values;
  return new Promise((resolve) => {
    // The signal is watched here rather than given to the request: Node's request makes an AbortError
    // (with its stack) when the signal aborts even after the answer, which every action's end does.
    const options = { hostname: host, port, path, method: 'GET', headers, agent: false };
    const done = (result: string | undefined) => {
      signal.removeEventListener('abort', abort);
      resolve(result);
    };
    const onResponse = (res: IncomingMessage) => {
      const code = res.statusCode ?? 0;
      res.destroy();
      done(code >= 200 && code < 400 ? undefined : `HTTP GET ${url}: status code ${code}`);
    };
    const req = https
      ? httpsRequest({ ...options, rejectUnauthorized: false }, onResponse)
      : httpRequest(options, onResponse);
    const abort = () => {
      req.destroy();
      done(`HTTP GET ${url}: stopped`);
    };
    req.once('error', (err) => done(`HTTP GET ${url}: ${err.message}`));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    req.end();
  });
}
