// Logs and exec of a pod's container on this node, straight from Docker. Run for a request that came
// over the mesh (stream-server.ts) or, on a head that is itself the pod's node, called directly.
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { LABEL, podContainers } from '../runtime/labels.ts';
import { pumpOutput } from './docker-output.ts';
import { ExecError, runExec } from './exec.ts';
import { encodeEnd, type FrameSink, type FrameSource } from './frames.ts';
import type { LogsRequest, PodStreamRequest } from './requests.ts';

export class PodStreamError extends Error {}

interface Target {
  cluster: string;
  node: string;
}

/**
 * Run one request, writing frames to `sink` and always ending with an end frame. `input`: the client's
 * frames (exec: stdin, stdin close, resize; logs: none, read only to notice a client that went away).
 */
export async function runPodStream(
  docker: Docker,
  at: Target,
  req: PodStreamRequest,
  sink: FrameSink,
  signal: AbortSignal,
  input: FrameSource,
): Promise<void> {
  const draining = new AbortController();
  try {
    const id = await findContainer(docker, at, req);
    if (req.op === 'logs') drain(input, draining.signal).catch(() => undefined);
    const exitCode =
      req.op === 'logs'
        ? await streamLogs(docker, id, req, sink, signal)
        : await runExec(docker, id, req, sink, signal, input);
    await sink(encodeEnd(exitCode === undefined ? {} : { exitCode }));
  } catch (err) {
    const known = err instanceof PodStreamError || err instanceof ExecError;
    const error = known ? (err as Error).message : `docker: ${(err as Error).message}`;
    await sink(encodeEnd({ error })).catch(() => undefined);
  } finally {
    draining.abort();
  }
}

async function findContainer(docker: Docker, at: Target, req: PodStreamRequest): Promise<string> {
  const found = await docker.listContainers({
    all: true,
    filters: {
      label: [
        ...podContainers(at.cluster, at.node).label,
        `${LABEL.namespace}=${req.namespace}`,
        `${LABEL.pod}=${req.pod}`,
      ],
    },
  });
  if (found.length === 0)
    throw new PodStreamError(`pod ${req.namespace}/${req.pod} has no container on node ${at.node} (yet)`);
  const names = [...new Set(found.map((c) => c.Labels[LABEL.container]!))].sort();
  const want = req.container ?? (names.length === 1 ? names[0] : undefined);
  if (!want)
    throw new PodStreamError(
      `a container name must be specified for pod ${req.pod}, choose one of: [${names.join(' ')}]`,
    );
  const mine = found.filter((c) => c.Labels[LABEL.container] === want).sort((a, b) => b.Created - a.Created);
  if (mine.length === 0)
    throw new PodStreamError(
      `container ${want} is not valid for pod ${req.pod}, choose one of: [${names.join(' ')}]`,
    );
  if (req.op === 'exec' && mine[0]!.State !== 'running')
    throw new PodStreamError(`cannot exec in container ${want} of pod ${req.pod}: it is ${mine[0]!.State}`);
  return mine[0]!.Id;
}

async function streamLogs(
  docker: Docker,
  id: string,
  req: LogsRequest,
  sink: FrameSink,
  signal: AbortSignal,
): Promise<undefined> {
  const container = docker.getContainer(id);
  const opts = {
    stdout: true,
    stderr: true,
    timestamps: req.timestamps,
    ...(req.tailLines !== undefined ? { tail: req.tailLines } : {}),
    ...(req.sinceSeconds !== undefined ? { since: Math.floor(Date.now() / 1000) - req.sinceSeconds } : {}),
  };
  const raw: Readable = req.follow
    ? ((await container.logs({ ...opts, follow: true })) as Readable)
    : readableOf(await container.logs({ ...opts, follow: false }));
  await pumpOutput(docker, raw, sink, signal, true);
  return undefined;
}

function readableOf(buf: Buffer): Readable {
  const p = new PassThrough();
  p.end(buf);
  return p;
}

/** Read and drop what the client sends to a logs stream: a client that goes away is noticed at once. */
async function drain(input: FrameSource, signal: AbortSignal): Promise<void> {
  while ((await input.next(signal)) !== undefined) {}
}
