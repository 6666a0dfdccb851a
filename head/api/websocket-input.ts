// A pod stream client's input frames (exec: stdin, stdin close, resize), as it sends them on its
// WebSocket: each checked on arrival, queued up to a bound. Past PAUSE_AT queued bytes the WebSocket is
// paused (its TCP window closes, so the client's sends wait); a client that still sends past
// MAX_QUEUED_BYTES is refused.
import type { WebSocket } from 'ws';
import { decodeInputFrame, type FrameSource } from '../../agent/remote/frames.ts';

const PAUSE_AT = 256 * 1024;
const RESUME_AT = 64 * 1024;
/** What a paused WebSocket may still deliver (its last read) is far below this. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** `refuse` is called once, with the reason, for a bad frame or a client that does not stop. */
export function websocketInput(ws: WebSocket, refuse: (why: string) => void): FrameSource {
  const queue: Uint8Array[] = [];
  let queued = 0;
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stop = (why?: string) => {
    if (done) return;
    done = true;
    queue.length = 0;
    notify();
    if (why) refuse(why);
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (done) return;
    const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    try {
      if (!isBinary) throw new Error('a text message');
      decodeInputFrame(frame);
    } catch (err) {
      return stop(`bad input frame: ${(err as Error).message}`);
    }
    queue.push(frame);
    queued += frame.length;
    if (queued > MAX_QUEUED_BYTES) return stop('the client kept sending while paused');
    if (queued >= PAUSE_AT && !ws.isPaused) ws.pause();
    notify();
  });
  ws.on('close', () => stop());
  return {
    async next(signal) {
      while (queue.length === 0) {
        if (done || signal.aborted) return undefined;
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          signal.addEventListener('abort', onAbort, { once: true });
          wake = () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          };
        });
      }
      const frame = queue.shift()!;
      queued -= frame.length;
      if (ws.isPaused && queued <= RESUME_AT) ws.resume();
      return frame;
    },
  };
}
