// `nokube exec -i [-t]`: this process's stdin to the command, as input frames on the head's WebSocket.
// Each frame is sent only after the previous one was written to the socket, and stdin is read only as
// fast as that (back-pressure from the container's stdin back to ours). With a TTY the local terminal is
// put in raw mode (keys, Ctrl-C included, go to the command) and restored however we end; its size is
// sent at the start and on every change (SIGWINCH).
import type WebSocket from 'ws';
import { encodeFrame, encodeResize, FRAME, payloadParts, STDIN_CLOSE } from '../../agent/remote/frames.ts';

export const TTY_UNUSABLE = 'Unable to use a TTY - input is not a terminal or the right kind of file';

/** Start sending; call the result to stop reading stdin and give the terminal back. */
export function sendInput(ws: WebSocket, tty: boolean): () => void {
  const send = (frame: Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      ws.send(frame, { binary: true }, (err) => (err ? reject(err) : resolve())),
    );
  const stdin = process.stdin;
  let stopped = false;
  const giveBack = tty ? rawTerminal(send) : () => undefined;
  (async () => {
    for await (const chunk of stdin as AsyncIterable<Buffer>) {
      for (const part of payloadParts(chunk)) await send(encodeFrame(FRAME.stdin, part));
    }
    if (!stopped) await send(STDIN_CLOSE);
  })().catch(() => undefined); // the stream's end (or its failure) is reported by the output side
  return () => {
    stopped = true;
    giveBack();
    stdin.destroy();
  };
}

/** Raw mode on, the size sent now and on each resize; returns what undoes both. */
function rawTerminal(send: (frame: Uint8Array) => Promise<void>): () => void {
  const stdin = process.stdin;
  const out = process.stdout;
  const restore = () => {
    if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
  };
  stdin.setRawMode(true);
  process.on('exit', restore);
  const sendSize = () => {
    if (out.isTTY) send(encodeResize({ width: out.columns, height: out.rows })).catch(() => undefined);
  };
  sendSize();
  out.on('resize', sendSize);
  return () => {
    out.off('resize', sendSize);
    restore();
    process.off('exit', restore);
  };
}
