// A Docker output stream (logs, exec) into output frames: demultiplexed into stdout and stderr, or, for a
// command on a TTY (Docker sends the terminal's bytes raw), all stdout. Docker is paused while the sink
// is busy, so a slow client slows Docker instead of filling memory.
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { encodeFrame, FRAME, type FrameSink, payloadParts } from './frames.ts';

export async function pumpOutput(
  docker: Docker,
  raw: Readable,
  sink: FrameSink,
  signal: AbortSignal,
  multiplexed: boolean,
): Promise<void> {
  raw.on('error', () => undefined); // seen as the stream's end below
  const split: PassThrough[] = multiplexed ? [new PassThrough(), new PassThrough()] : [];
  if (multiplexed) {
    docker.modem.demuxStream(raw, split[0]!, split[1]!);
    raw.on('end', () => {
      for (const s of split) s.end();
    });
  }
  const abort = () => {
    raw.destroy();
    for (const s of split) s.end();
  };
  if (signal.aborted) abort();
  signal.addEventListener('abort', abort, { once: true });
  // Frames not yet written: at most the parts of the chunk Docker gave last (it is paused meanwhile).
  let pending = 0;
  let chain = Promise.resolve();
  let failed: unknown;
  const forward = (type: number) => (chunk: Buffer) => {
    for (const part of payloadParts(chunk)) {
      raw.pause();
      pending++;
      chain = chain
        .then(() => sink(encodeFrame(type, part)))
        .then(
          () => {
            if (--pending === 0) raw.resume();
          },
          (e) => {
            failed ??= e;
            abort();
          },
        );
    }
  };
  const sources: Array<[Readable, number]> = multiplexed
    ? [
        [split[0]!, FRAME.stdout],
        [split[1]!, FRAME.stderr],
      ]
    : [[raw, FRAME.stdout]];
  for (const [source, type] of sources) source.on('data', forward(type));
  await Promise.all([...split, raw].map(ended));
  await chain;
  signal.removeEventListener('abort', abort);
  if (failed) throw failed;
}

const ended = (s: Readable) =>
  new Promise<void>((r) =>
    s
      .once('end', r)
      .once('close', r)
      .once('error', () => r()),
  );
