// Frames of a pod stream (logs, exec), the same on the mesh and on the head's WebSocket: one type byte,
// then the payload. Output frames (node -> client) carry raw bytes; the end frame carries JSON. Input
// frames (client -> node, exec only) carry stdin bytes, stdin's end, or a terminal size as JSON.
export const FRAME = { stdout: 1, stderr: 2, end: 3, stdin: 0x10, stdinClose: 0x11, resize: 0x12 } as const;
/** Bigger output (and input) is cut into frames of at most this many bytes. */
export const MAX_FRAME_PAYLOAD = 32 * 1024;
/** The largest frame either side accepts: a full payload, its type byte and room to spare. */
export const MAX_FRAME_BYTES = MAX_FRAME_PAYLOAD + 1024;
/** Terminal sizes beyond this are refused (a TTY's rows and columns are 16-bit). */
const MAX_TERMINAL_SIDE = 0xffff;

export interface StreamEnd {
  /** exec: the command's exit code. */
  exitCode?: number;
  /** Why the stream could not run or stopped early (pod not found, container not running, ...). */
  error?: string;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** `bytes` cut into payloads of at most MAX_FRAME_PAYLOAD bytes (views, no copies). */
export function* payloadParts(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += MAX_FRAME_PAYLOAD)
    yield bytes.subarray(at, at + MAX_FRAME_PAYLOAD);
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = type;
  out.set(payload, 1);
  return out;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

export function encodeEnd(end: StreamEnd): Uint8Array {
  return encodeFrame(FRAME.end, json(end));
}

export function encodeResize(size: TerminalSize): Uint8Array {
  return encodeFrame(FRAME.resize, json({ width: size.width, height: size.height }));
}

export const STDIN_CLOSE: Uint8Array = Uint8Array.of(FRAME.stdinClose);

export type DecodedFrame = { type: 'stdout' | 'stderr'; data: Uint8Array } | { type: 'end'; end: StreamEnd };

export function decodeFrame(frame: Uint8Array): DecodedFrame {
  const data = frame.subarray(1);
  switch (frame[0]) {
    case FRAME.stdout:
      return { type: 'stdout', data };
    case FRAME.stderr:
      return { type: 'stderr', data };
    case FRAME.end:
      return { type: 'end', end: JSON.parse(new TextDecoder().decode(data)) as StreamEnd };
    default:
      throw new Error(`unknown pod stream frame type ${frame[0]}`);
  }
}

export type InputFrame =
  | { type: 'stdin'; data: Uint8Array }
  | { type: 'stdinClose' }
  | { type: 'resize'; size: TerminalSize };

/** A client's frame, checked: a known input type, within MAX_FRAME_BYTES, a resize of two sides in range. */
export function decodeInputFrame(frame: Uint8Array): InputFrame {
  if (frame.length > MAX_FRAME_BYTES) throw new Error(`input frame of ${frame.length} bytes is too big`);
  const data = frame.subarray(1);
  switch (frame[0]) {
    case FRAME.stdin:
      return { type: 'stdin', data };
    case FRAME.stdinClose:
      return { type: 'stdinClose' };
    case FRAME.resize: {
      let size: Partial<TerminalSize> = {};
      try {
        size = JSON.parse(new TextDecoder().decode(data)) as Partial<TerminalSize>;
      } catch {}
      const side = (n: unknown) =>
        Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_TERMINAL_SIDE;
      if (!side(size.width) || !side(size.height))
        throw new Error('resize frame: expected {"width": 0..65535, "height": 0..65535}');
      return { type: 'resize', size: { width: size.width!, height: size.height! } };
    }
    default:
      throw new Error(`unknown input frame type ${frame[0]}`);
  }
}

/** Where a pod stream writes: a promise per frame gives back-pressure (the docker stream pauses). */
export type FrameSink = (frame: Uint8Array) => Promise<void>;

/**
 * Where a pod stream reads its client's input frames, one at a time: the next frame (still encoded),
 * or undefined when the client sends no more. Reading the next one only after the previous one was
 * handled is the back-pressure: nothing is queued beyond the transport's own bounded buffers.
 */
export interface FrameSource {
  next(signal: AbortSignal): Promise<Uint8Array | undefined>;
}
