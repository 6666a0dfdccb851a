// WebSocket routes for `nokube logs` and `nokube exec`, at Kubernetes' paths:
//   /api/v1/namespaces/<ns>/pods/<name>/log?container=&follow=&tailLines=&sinceSeconds=&timestamps=
//   /api/v1/namespaces/<ns>/pods/<name>/exec?container=&command=sh&command=-c&command=...&stdin=&tty=
// The head finds the pod's node and relays the node's frames (agent/remote/frames.ts) as binary
// WebSocket messages; each is sent only after the previous one was written (back-pressure to Docker).
// The client's input frames (exec: stdin, stdin close, resize) go the other way, also one at a time.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentContext } from '../../agent/context.ts';
import { getObject } from '../../agent/objects/store.ts';
import { encodeEnd, MAX_FRAME_BYTES } from '../../agent/remote/frames.ts';
import { runPodStream } from '../../agent/remote/pod-streams.ts';
import { type PodStreamRequest, podStreamRequest } from '../../agent/remote/requests.ts';
import { requestPodStream } from '../../agent/remote/stream-server.ts';
import { listNodes } from '../../agent/store/node-registry.ts';
import { selectProtocol } from './auth/credentials.ts';
import { websocketInput } from './websocket-input.ts';

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec)$/;

export function isPodStreamPath(path: string): boolean {
  return PATH.test(path);
}

/** Parse the URL into a request; a message for the client when it is malformed. */
export function parsePodStreamUrl(url: URL): PodStreamRequest | string {
  const m = PATH.exec(url.pathname);
  if (!m) return `no route ${url.pathname}`;
  const [, namespace, pod, what] = m;
  const q = url.searchParams;
  const container = q.get('container') ?? undefined;
  const num = (name: string) => (q.has(name) ? Number(q.get(name)) : undefined);
  const raw =
    what === 'log'
      ? {
          op: 'logs',
          namespace,
          pod,
          container,
          follow: q.get('follow') === 'true',
          tailLines: num('tailLines'),
          sinceSeconds: num('sinceSeconds'),
          timestamps: q.get('timestamps') === 'true',
        }
      : {
          op: 'exec',
          namespace,
          pod,
          container,
          command: q.getAll('command'),
          stdin: q.get('stdin') === 'true' || undefined,
          tty: q.get('tty') === 'true' || undefined,
        };
  const parsed = podStreamRequest.safeParse(JSON.parse(JSON.stringify(raw)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `bad request: ${issue.path.join('.')}: ${issue.message}`;
  }
  return parsed.data;
}

/** The pod stream routes of one head server. */
export class PodStreams {
  private readonly ctx: AgentContext;
  /** Client messages are input frames: none bigger than a frame is read. */
  private readonly sockets = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: selectProtocol,
  });

  constructor(ctx: AgentContext) {
    this.ctx = ctx;
  }

  /** Take an HTTP upgrade to a pod stream path (the gate has let it through); `opened` hears the socket. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, opened?: (ws: WebSocket) => void): void {
    const { ctx } = this;
    this.sockets.handleUpgrade(req, socket, head, (ws) => {
      opened?.(ws);
      servePodStream(ctx, ws, new URL(req.url ?? '/', 'http://head')).catch((err: Error) => {
        ctx.log.warn({ err: err.message, path: req.url }, 'pod stream failed');
        ws.close(1011);
      });
    });
  }
}

async function servePodStream(ctx: AgentContext, ws: WebSocket, url: URL): Promise<void> {
  const abort = new AbortController();
  ws.on('close', () => abort.abort());
  const send = (raw: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (ws.readyState !== ws.OPEN) return reject(new Error('client gone'));
      ws.send(raw, { binary: true }, (err) => (err ? reject(err) : resolve()));
    });
  const finish = async (error: string) => {
    await send(encodeEnd({ error })).catch(() => undefined);
    ws.close(1000);
  };
  const input = websocketInput(ws, (why) => void finish(why));
  const req = parsePodStreamUrl(url);
  if (typeof req === 'string') return finish(req);
  const pod = await getObject(
    ctx.etcd,
    ctx.cluster,
    { kind: 'Pod', namespace: req.namespace, name: req.pod },
    false,
  );
  if (!pod) return finish(`pods "${req.pod}" not found in namespace ${req.namespace}`);
  const nodeName = pod.object.spec.nodeName;
  if (!nodeName) return finish(`pod ${req.pod} is not scheduled to a node yet`);
  try {
    if (nodeName === ctx.nodeName) {
      const at = { cluster: ctx.cluster, node: nodeName };
      await runPodStream(ctx.docker, at, req, send, abort.signal, input);
    } else {
      const node = (await listNodes(ctx.etcd, ctx.cluster)).find((n) => n.name === nodeName);
      if (!node) return finish(`node ${nodeName} of pod ${req.pod} is not alive (no node record)`);
      const relay = (_frame: unknown, raw: Uint8Array) => send(raw);
      await requestPodStream(ctx.mesh, node.peerId, req, relay, abort.signal, input);
    }
    ws.close(1000);
  } catch (err) {
    if (!abort.signal.aborted) await finish(`node ${nodeName}: ${(err as Error).message}`);
  }
}
