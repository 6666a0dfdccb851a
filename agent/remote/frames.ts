// Frames of a pod stream (logs, exec), the same on the mesh and on the head's WebSocket: one type byte,
// then the payload. Output frames carry raw bytes; the end frame carries JSON.
export const FRAME = { stdout: 1, stderr: 2, end: 3 } as const;
/** Bigger output is cut into frames of at most this many bytes. */
export const MAX_FRAME_PAYLOAD = 32 * 1024;

export interface StreamEnd {
  /** exec: the command's exit code. */
  exitCode?: number;
  /** Why the stream could not run or stopped early (pod not found, container not running, ...). */
  error?: string;
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = type;
  out.set(payload, 1);
  return out;
}

export function encodeEnd(end: StreamEnd): Uint8Array {
  return encodeFrame(FRAME.end, new TextEncoder().encode(JSON.stringify(end)));
}

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

/** Where a pod stream writes: a promise per frame gives back-pressure (the docker stream pauses). */
export type FrameSink = (frame: Uint8Array) => Promise<void>;
