// Logs and exec of a pod's container on this node, straight from Docker. Run for a request that came
// over the mesh (stream-server.ts) or, on a head that is itself the pod's node, called directly.
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { LABEL, ourContainers } from '../runtime/labels.ts';
import { encodeEnd, encodeFrame, FRAME, type FrameSink, MAX_FRAME_PAYLOAD } from './frames.ts';
import type { ExecRequest, LogsRequest, PodStreamRequest } from './requests.ts';

export class PodStreamError extends Error {}

interface Target {
  cluster: string;
  node: string;
}

/** Run one request, writing frames to `sink` and always ending with an end frame. */
export async function runPodStream(
  docker: Docker,
  at: Target,
  req: PodStreamRequest,
  sink: FrameSink,
  signal: AbortSignal,
): Promise<void> {
  try {
    const id = await findContainer(docker, at, req);
    const exitCode =
      req.op === 'logs'
        ? await streamLogs(docker, id, req, sink, signal)
        : await runExec(docker, id, req, sink, signal);
    await sink(encodeEnd(exitCode === undefined ? {} : { exitCode }));
  } catch (err) {
    const error = err instanceof PodStreamError ? err.message : `docker: ${(err as Error).message}`;
    await sink(encodeEnd({ error })).catch(() => undefined);
  }
}

async function findContainer(docker: Docker, at: Target, req: PodStreamRequest): Promise<string> {
  const found = await docker.listContainers({
    all: true,
    filters: {
      label: [
        ...ourContainers(at.cluster, at.node).label,
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
  await pumpMultiplexed(docker, raw, sink, signal);
  return undefined;
}

async function runExec(
  docker: Docker,
  id: string,
  req: ExecRequest,
  sink: FrameSink,
  signal: AbortSignal,
): Promise<number> {
  const exec = await docker.getContainer(id).exec({
    Cmd: req.command,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
  });
  const raw = (await exec.start({ hijack: true, stdin: false })) as Readable;
  await pumpMultiplexed(docker, raw, sink, signal);
  const info = await exec.inspect();
  return info.ExitCode ?? -1;
}

function readableOf(buf: Buffer): Readable {
  const p = new PassThrough();
  p.end(buf);
  return p;
}

/** Demultiplex Docker's stdout/stderr stream into frames, pausing Docker while the sink is busy. */
async function pumpMultiplexed(
  docker: Docker,
  raw: Readable,
  sink: FrameSink,
  signal: AbortSignal,
): Promise<void> {
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(raw, out, err);
  raw.on('end', () => {
    out.end();
    err.end();
  });
  const abort = () => {
    raw.destroy();
    out.end();
    err.end();
  };
  if (signal.aborted) abort();
  signal.addEventListener('abort', abort, { once: true });
  let chain = Promise.resolve();
  let failed: unknown;
  const forward = (type: number) => (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += MAX_FRAME_PAYLOAD) {
      const part = chunk.subarray(at, at + MAX_FRAME_PAYLOAD);
      raw.pause();
      chain = chain
        .then(() => sink(encodeFrame(type, part)))
        .then(
          () => {
            raw.resume();
          },
          (e) => {
            failed ??= e;
            abort();
          },
        );
    }
  };
  out.on('data', forward(FRAME.stdout));
  err.on('data', forward(FRAME.stderr));
  await Promise.all([
    new Promise<void>((r) => out.once('end', r).once('close', r)),
    new Promise<void>((r) => err.once('end', r).once('close', r)),
    new Promise<void>((r) =>
      raw
        .once('end', r)
        .once('close', r)
        .once('error', () => r()),
    ),
  ]);
  await chain;
  signal.removeEventListener('abort', abort);
  if (failed) throw failed;
}
