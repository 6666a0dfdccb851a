// Pod streams over the mesh: a head asks the pod's node for logs or an exec on our protocol, over the
// mesh's authenticated connections (no extra port, no shell). One length-prefixed JSON request, then
// frames (frames.ts) until the end frame; the other way, after the request, the client's input frames
// (exec: stdin, stdin close, resize). Either side reads a frame only after it handled the previous one,
// so the stream's own flow control is the back-pressure.
import type { Stream } from '@libp2p/interface';
import type Docker from 'dockerode';
import { type LengthPrefixedStream, lpStream } from 'it-length-prefixed-stream';
import type { AgentContext, AgentPart } from '../context.ts';
import type { Mesh } from '../mesh/mesh.ts';
import { type DecodedFrame, decodeFrame, encodeEnd, type FrameSource, MAX_FRAME_BYTES } from './frames.ts';
import { runPodStream } from './pod-streams.ts';
import { type PodStreamRequest, podStreamRequest } from './requests.ts';

export const POD_STREAM_PROTOCOL = '/nokube/pod-stream/1.0.0';
/** Concurrent pod streams one agent serves (each holds a Docker stream). */
const MAX_STREAMS = 32;
const MAX_REQUEST_BYTES = 64 * 1024;

export const podStreamsPart: AgentPart = {
  name: 'pod-streams',
  async start(ctx: AgentContext) {
    const { docker } = ctx;
    const open = new Set<AbortController>();
    await ctx.mesh.handle(
      POD_STREAM_PROTOCOL,
      (stream, from) => {
        const abort = new AbortController();
        open.add(abort);
        serve(ctx, docker, stream, abort.signal)
          .catch((err) => ctx.log.debug({ err: String(err), from }, 'pod stream ended with an error'))
          .finally(() => open.delete(abort));
      },
      MAX_STREAMS,
    );
    return {
      async stop() {
        for (const a of open) a.abort();
      },
    };
  },
};

async function serve(ctx: AgentContext, docker: Docker, stream: Stream, signal: AbortSignal): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES });
  const first = await lp.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
  if (first.byteLength > MAX_REQUEST_BYTES) throw new Error('request too big');
  const parsed = podStreamRequest.safeParse(JSON.parse(new TextDecoder().decode(first.subarray())));
  if (!parsed.success) {
    await lp.write(encodeEnd({ error: `bad pod stream request: ${parsed.error.issues[0]?.message}` }));
    await stream.close();
    return;
  }
  // A client that goes away resets the stream: the pending read (or the next write) fails and the Docker
  // stream is dropped.
  const local = new AbortController();
  const stopAll = () => local.abort();
  signal.addEventListener('abort', stopAll, { once: true });
  await runPodStream(
    docker,
    { cluster: ctx.cluster, node: ctx.nodeName },
    parsed.data,
    (frame) => lp.write(frame, { signal: local.signal }).then(() => undefined),
    local.signal,
    meshInput(lp, stopAll),
  );
  signal.removeEventListener('abort', stopAll);
  await stream.close().catch(() => stream.abort(new Error('close failed')));
}

/** The client's input frames on the stream; `gone` when it resets or ends it (it only does when gone). */
function meshInput(lp: LengthPrefixedStream<Stream>, gone: () => void): FrameSource {
  return {
    async next(signal) {
      try {
        return (await lp.read({ signal })).subarray();
      } catch {
        if (!signal.aborted) gone();
        return undefined;
      }
    },
  };
}

/**
 * Ask the agent with `peerId` for a pod stream; calls `onFrame` per frame until the end frame. The
 * frames of `input` (already checked) are relayed to the agent meanwhile, each after the previous one
 * was written.
 */
export async function requestPodStream(
  mesh: Mesh,
  peerId: string,
  req: PodStreamRequest,
  onFrame: (frame: DecodedFrame, raw: Uint8Array) => Promise<void>,
  signal: AbortSignal,
  input?: FrameSource,
): Promise<void> {
  const stream = await mesh.openStream(
    peerId,
    POD_STREAM_PROTOCOL,
    AbortSignal.any([signal, AbortSignal.timeout(5000)]),
  );
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES });
  const onAbort = () => stream.abort(new Error('client gone'));
  signal.addEventListener('abort', onAbort, { once: true });
  const relaying = new AbortController();
  try {
    await lp.write(new TextEncoder().encode(JSON.stringify(req)));
    if (input) relayInput(input, lp, AbortSignal.any([signal, relaying.signal])).catch(() => undefined);
    for (;;) {
      const raw = (await lp.read({ signal })).subarray();
      const frame = decodeFrame(raw);
      await onFrame(frame, raw);
      if (frame.type === 'end') break;
    }
    await stream.close().catch(() => undefined);
  } finally {
    relaying.abort();
    signal.removeEventListener('abort', onAbort);
  }
}

/** Stops at the client's last frame, or when the stream or the relay ends (the reads see why). */
async function relayInput(
  input: FrameSource,
  lp: LengthPrefixedStream<Stream>,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    const frame = await input.next(signal);
    if (frame === undefined) return;
    await lp.write(frame, { signal });
  }
}
