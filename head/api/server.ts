// The head's HTTP API and WebSocket event stream: views of etcd and of this head's mesh table, and the
// object API (apply/get/delete/watch, head/api/objects.ts).
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Counter, type Registry } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentContext, AgentEvents } from '../../agent/context.ts';
import { readConfig } from '../../agent/store/config-store.ts';
import { EtcdUnreachableError, logEtcdFailure } from '../../agent/store/etcd.ts';
import { keys } from '../../agent/store/keys.ts';
import { listCordoned, listNodes } from '../../agent/store/node-registry.ts';
import { nodeViews } from '../../agent/store/node-views.ts';
import type { NodeSummary } from '../../agent/telemetry/summary.ts';
import { topNodes, topPods } from '../../agent/telemetry/top.ts';
import { tlsFront } from '../../agent/tls/front.ts';
import { AUDIT_READ_MAX, AuditLog } from '../audit/audit-log.ts';
import { auditRecordOf } from '../audit/record.ts';
import { CONSOLE_HTML } from '../console/page.ts';
import { TopStore } from '../console/top-store.ts';
import {
  DASHBOARD_FILES,
  dashboardsProviderYaml,
  datasourcesYaml,
  renderDashboard,
} from '../dashboards/serve.ts';
import { isPrewarmPath, servePrewarmTasks } from '../prewarm/tasks-api.ts';
import { isAclPath, serveAcl } from './auth/acl-routes.ts';
import { selectProtocol } from './auth/credentials.ts';
import { authorizeRequest, Gate } from './auth/gate.ts';
import { PUBLIC_ROUTES, routeAccess, streamAccess } from './auth/route-access.ts';
import { HttpError } from './http-error.ts';
import { isCordonPath, serveCordon } from './node-cordon.ts';
import { isObjectsWatchPath, serveWatch } from './object-watch.ts';
import { isObjectsPath, serveObjects } from './objects.ts';
import { isPodStreamPath, PodStreams } from './pod-streams.ts';
import { discardBody } from './request-body.ts';

/** A WebSocket client further behind than this is disconnected rather than buffered without bound. */
export const WS_MAX_BUFFERED_BYTES = 1 << 20;
const WATCH_MAX_CLIENT_MESSAGE_BYTES = 1024;

export class HeadPortInUseError extends Error {
  override name = 'HeadPortInUseError';
}

export interface HeadServer {
  url: string;
  /** Every request passes it: audit observes its decisions (Gate.observe). */
  gate: Gate;
  stop(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** The dashboards (/dashboards/<name>.json) and Grafana provisioning (/provisioning/...) for this cluster. */
function grafanaRoutes(ctx: AgentContext): Record<string, Handler> {
  const routes: Record<string, Handler> = {
    '/dashboards/': async (_req, res) =>
      json(res, 200, { items: Object.keys(DASHBOARD_FILES).map((n) => `/dashboards/${n}.json`) }),
    '/provisioning/datasources.yaml': async (_req, res) => {
      const yaml = datasourcesYaml(ctx.config());
      if (!yaml) return json(res, 404, { error: 'the cluster config has no monitoring section' });
      text(res, 200, yaml, 'application/yaml');
    },
    '/provisioning/dashboards.yaml': async (_req, res) =>
      text(res, 200, dashboardsProviderYaml(), 'application/yaml'),
  };
  for (const name of Object.keys(DASHBOARD_FILES)) {
    routes[`/dashboards/${name}.json`] = async (_req, res) =>
      text(res, 200, renderDashboard(name, ctx.config(), ctx.self())!, 'application/json');
  }
  return routes;
}

/** Requests may name the cluster they are for (X-Nokube-Cluster); one for another cluster is refused. */
function wrongCluster(ctx: AgentContext, req: IncomingMessage): string | undefined {
  const want = req.headers['x-nokube-cluster'];
  if (typeof want !== 'string' || want === ctx.cluster) return undefined;
  return `this head serves cluster "${ctx.cluster}", not "${want}"`;
}

export async function startHeadServer(
  ctx: AgentContext,
  metrics: Registry,
  bind: { host: string; port: number },
): Promise<HeadServer> {
  const top = new TopStore(ctx);
  top.start();
  const routes: Record<string, Handler> = {
    '/healthz': async (_req, res) => text(res, 200, 'ok\n'),
    '/readyz': async (_req, res) => {
      const status = ctx.status();
      const problems: string[] = [];
      if (status.etcd.state !== 'registered')
        problems.push(`etcd: ${status.etcd.state} ${status.etcd.reason ?? ''}`.trim());
      if (status.mesh.multiaddrs.length === 0) problems.push('mesh: not listening');
      if (problems.length > 0) json(res, 503, { ready: false, problems });
      else json(res, 200, { ready: true });
    },
    '/metrics': async (_req, res) => {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(await metrics.metrics());
    },
    '/api/v1/status': async (_req, res) => json(res, 200, ctx.status()),
    '/api/v1/config': async (_req, res) => {
      const stored = await readConfig(ctx.etcd, ctx.cluster);
      if (!stored) return json(res, 404, { error: `no config stored for cluster ${ctx.cluster}` });
      json(res, 200, {
        cluster: ctx.cluster,
        version: stored.version,
        text: stored.text,
        config: ctx.config(),
      });
    },
    '/api/v1/nodes': async (_req, res) => {
      const [records, cordoned] = await Promise.all([
        listNodes(ctx.etcd, ctx.cluster),
        listCordoned(ctx.etcd, ctx.cluster),
      ]);
      json(res, 200, { items: nodeViews(ctx.config(), records, ctx.mesh.table.list(), cordoned) });
    },
    '/api/v1/kubecontroller': async (_req, res) => {
      // The election is the truth: its oldest campaign key is the leader (null between leaders); `since`
      // from the leader's alive record when it is that head's.
      const [first, v] = await Promise.all([
        ctx.etcd
          .getAll()
          .prefix(`${keys.election(ctx.cluster, 'kubecontroller')}/`)
          .sort('Create', 'Ascend')
          .limit(1)
          .strings(),
        ctx.etcd.get(keys.alive(ctx.cluster, '_cluster', 'kubecontroller')).string(),
      ]);
      const leader = Object.values(first)[0] ?? null;
      const rec = v ? (JSON.parse(v) as { node: string; since: string }) : undefined;
      json(res, 200, { leader, since: rec && rec.node === leader ? rec.since : null });
    },
    '/api/v1/members': async (_req, res) => {
      json(res, 200, { observer: ctx.nodeName, items: ctx.mesh.table.list() });
    },
    ...grafanaRoutes(ctx),
    '/api/v1/top/nodes': async (_req, res) => json(res, 200, { items: topNodes(top.nodes()) }),
    '/api/v1/top/pods': async (req, res) => {
      const ns = new URL(req.url ?? '/', 'http://head').searchParams.get('namespace') || undefined;
      json(res, 200, { items: topPods(top.nodes(), ns) });
    },
    '/ui': async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(CONSOLE_HTML);
    },
  };

  const gate = new Gate(ctx);
  // The audit log of this head (README "Audit"): every write, exec and logs session and every refusal.
  const audit = new AuditLog({
    file: join(ctx.self().workspace, 'head', 'audit.jsonl'),
    rotation: () => {
      const { maxSizeMB, maxFiles } = ctx.config().audit;
      return { maxBytes: Math.round(maxSizeMB * 1024 * 1024), maxFiles };
    },
    onError: (err) => ctx.log.warn({ err: err.message }, 'audit log write failed'),
  });
  // Records lost (queue full, a write failed): a head that cannot keep its audit log should be seen.
  const AUDIT_DROPPED = 'nokube_audit_records_dropped_total';
  new Counter({
    name: AUDIT_DROPPED,
    help: 'audit records this head could not write since start (queue full or write failed)',
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(audit.dropped);
    },
  });
  const offAudit = gate.observe((e) => {
    const r = auditRecordOf(e);
    if (!r) return;
    audit.record(r);
    // Also through the agent's log, which ships it with the logs (source=audit) when monitoring is on.
    ctx.log.info({ audit: r }, 'audit');
  });
  routes['/api/v1/audit'] = async (req, res) => {
    const q = new URL(req.url ?? '/', 'http://head').searchParams;
    const since = q.get('since');
    const sinceDate = since === null ? undefined : new Date(since);
    if (sinceDate && Number.isNaN(sinceDate.getTime()))
      throw new HttpError(400, `since ${since}: expected an ISO time`);
    const user = q.get('user') ?? undefined;
    const { items, omitted } = await audit.readNewest(
      { ...(sinceDate ? { since: sinceDate } : {}), ...(user ? { user } : {}) },
      AUDIT_READ_MAX,
    );
    json(res, 200, { head: ctx.nodeName, items, ...(omitted > 0 ? { omitted } : {}) });
  };
  const aclRoute: Handler = async (req, res) => json(res, 200, await serveAcl(ctx, req, res));
  /** Every route but the public ones passes the gate first; plain routes are checked here, the object
   * and ACL APIs in their handlers (what they need depends on the request). */
  const guarded =
    (path: string, route: Handler): Handler =>
    async (req, res) => {
      if (PUBLIC_ROUTES.has(path)) return route(req, res);
      await gate.admit(req);
      if (!isObjectsPath(path) && !isAclPath(path) && !isCordonPath(path) && !isPrewarmPath(path)) {
        const need = routeAccess(path, new URL(req.url ?? '/', 'http://head'));
        if (need) authorizeRequest(req, ...need);
      }
      return route(req, res);
    };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    // A client that remembered this address for another cluster is told so, and asks etcd again.
    const wrong = wrongCluster(ctx, req);
    if (wrong) return json(res, 421, { error: wrong });
    const route: Handler | undefined = isObjectsPath(path)
      ? (q, r) => serveObjects(ctx, q, r)
      : isAclPath(path)
        ? aclRoute
        : isCordonPath(path)
          ? (q, r) => serveCordon(ctx, q, r)
          : isPrewarmPath(path)
            ? (q, r) => servePrewarmTasks(ctx, q, r)
            : routes[path];
    // Objects take POST (apply) and DELETE, the ACL API, cordons and prewarm tasks too; everything else
    // is read-only.
    const writable = isObjectsPath(path) || isAclPath(path) || isCordonPath(path) || isPrewarmPath(path);
    if (req.method !== 'GET' && req.method !== 'HEAD' && !writable)
      return json(res, 405, { error: `${req.method} not allowed` });
    if (!route) return json(res, 404, { error: `no route ${path}` });
    guarded(path, route)(req, res).catch((err: Error) => {
      if (err instanceof HttpError) {
        // A refused request's body is not read: what the client still sends is dropped (bounded).
        discardBody(req);
        if (err.status === 401) res.setHeader('www-authenticate', 'Bearer realm="nokube"');
        return json(res, err.status, {
          error: err.message,
          ...(err.problems ? { problems: err.problems } : {}),
        });
      }
      logEtcdFailure(ctx.log, err, { path }, 'api request failed');
      if (res.headersSent) return res.destroy();
      // etcd was not asked (its breaker was open, as for a second after it comes back): the client may
      // send the same request again (head/cli/head-client.ts does).
      if (err instanceof EtcdUnreachableError && err.retryAfterMs !== undefined)
        res.setHeader('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
      json(res, 503, { error: err.message.split('\n')[0] });
    });
  };
  // With the config's `tls`: HTTPS only (agent/tls/front.ts); the listening socket is the front's.
  const tls = ctx.tls
    ? await tlsFront(ctx.tls.files, onRequest, { who: 'head', clientCertificates: true })
    : undefined;
  const server = tls?.app ?? createServer(onRequest);
  const listener = tls?.front ?? server;

  // Watch clients only listen: a message from one is never read, so none bigger than this is buffered.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: WATCH_MAX_CLIENT_MESSAGE_BYTES,
    handleProtocols: selectProtocol,
  });
  const podStreams = new PodStreams(ctx);
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (wrongCluster(ctx, req)) {
      socket.end('HTTP/1.1 421 Misdirected Request\r\nconnection: close\r\n\r\n');
      return;
    }
    const watch = path === '/api/v1/watch' || isObjectsWatchPath(path);
    if (!watch && !isPodStreamPath(path)) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://head');
    const need = streamAccess(url);
    // While the check reads etcd, a reset of the connection must not go unheard (an 'error' without a
    // listener would end the process).
    const onError = () => socket.destroy();
    socket.on('error', onError);
    gate
      .admit(req)
      .then(() => authorizeRequest(req, ...need))
      .then(
        () => {
          socket.off('error', onError);
          // A token revoked or expired while the stream runs ends it (within STREAM_RECHECK_MS).
          const opened = (ws: WebSocket) =>
            gate.recheck(req, ws, need, (why) => ws.close(1008, why.slice(0, 120)));
          if (!watch) return podStreams.accept(req, socket, head, opened);
          wss.handleUpgrade(req, socket, head, (ws) => {
            opened(ws);
            if (path === '/api/v1/watch') attachWatcher(ctx, ws, top);
            else serveWatch(ctx, ws, url);
          });
        },
        (err: Error) => refuseUpgrade(ctx, socket, err),
      );
  });

  await new Promise<void>((resolve, reject) => {
    listener.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(new HeadPortInUseError(`head port ${bind.port} on ${bind.host} is in use (head.port)`));
      else reject(err);
    });
    listener.listen(bind.port, bind.host, () => resolve());
  });
  const addr = listener.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${addr.port}`,
    gate,
    async stop() {
      offAudit();
      metrics.removeSingleMetric(AUDIT_DROPPED);
      await audit.flush();
      top.stop();
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      if (tls) {
        server.close();
        await tls.close();
      } else await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function attachWatcher(ctx: AgentContext, ws: WebSocket, top: TopStore): void {
  const send = (msg: unknown) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
      ws.close(1013, 'too slow: event buffer full');
      return;
    }
    ws.send(JSON.stringify(msg));
  };
  const onMember = (...[e]: AgentEvents['member']) => send({ kind: 'member', ...e });
  const onNode = (...[e]: AgentEvents['node']) => send({ kind: 'node', ...e });
  const onConfig = (...[e]: AgentEvents['config']) => send({ kind: 'config', version: e.version });
  ctx.events.on('member', onMember);
  ctx.events.on('node', onNode);
  ctx.events.on('config', onConfig);
  const onTop = (s: NodeSummary) => send({ kind: 'top', node: topNodes([s])[0], pods: topPods([s]) });
  top.on('update', onTop);
  // Start with the current view so a client needs no second request.
  send({ kind: 'snapshot', members: ctx.mesh.table.list(), top: topNodes(top.nodes()) });
  ws.on('close', () => {
    top.off('update', onTop);
    ctx.events.off('member', onMember);
    ctx.events.off('node', onNode);
    ctx.events.off('config', onConfig);
  });
}

/** Answer an upgrade with the refusal as an HTTP response (the client reads its JSON like any other). */
function refuseUpgrade(ctx: AgentContext, socket: Duplex, err: Error): void {
  const [status, message] =
    err instanceof HttpError ? [err.status, err.message] : [503, err.message.split('\n')[0]!];
  if (!(err instanceof HttpError)) logEtcdFailure(ctx.log, err, {}, 'websocket check failed');
  const body = JSON.stringify({ error: message });
  const reason = STATUS_CODES[status] ?? 'Error';
  const auth = status === 401 ? 'www-authenticate: Bearer realm="nokube"\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${auth}connection: close\r\n\r\n${body}`,
  );
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function text(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}
