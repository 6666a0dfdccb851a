// An exec in a pod's container (Docker exec, hijacked connection), with the client's input when asked
// for: stdin frames are written to the connection (each after the previous one was taken), stdin close
// half-closes it (the command sees end of input), resize frames size the TTY. Output as frames.
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { pumpOutput } from './docker-output.ts';
import { decodeInputFrame, type FrameSink, type FrameSource } from './frames.ts';
import type { ExecRequest } from './requests.ts';

export class ExecError extends Error {}

/** Waits this long for Docker to record the exit of a command whose stream has ended. */
const EXIT_WAIT_MS = 2000;

/** Runs the command to its end; resolves with its exit code. */
export async function runExec(
  docker: Docker,
  containerId: string,
  req: ExecRequest,
  sink: FrameSink,
  signal: AbortSignal,
  input: FrameSource,
): Promise<number> {
  const exec = await docker.getContainer(containerId).exec({
    Cmd: req.command,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: req.stdin === true,
    Tty: req.tty === true,
  });
  const conn = (await exec.start({
    hijack: true,
    stdin: req.stdin === true,
    Tty: req.tty === true,
  })) as Duplex;
  const feeding = new AbortController();
  let badInput: Error | undefined;
  const fed = feedInput(exec, conn, req, input, feeding.signal).catch((err: Error) => {
    if (feeding.signal.aborted) return;
    badInput = err;
    conn.destroy();
  });
  try {
    await pumpOutput(docker, conn, sink, signal, req.tty !== true);
  } finally {
    feeding.abort();
    conn.destroy();
    await fed;
  }
  if (badInput) throw new ExecError(`bad input from the client: ${badInput.message}`);
  if (signal.aborted) return -1;
  return exitCode(exec);
}

/** Apply the client's frames until it sends no more or the command's output has ended. */
async function feedInput(
  exec: Docker.Exec,
  conn: Duplex,
  req: ExecRequest,
  input: FrameSource,
  signal: AbortSignal,
): Promise<void> {
  let stdinOpen = req.stdin === true;
  for (;;) {
    const raw = await input.next(signal);
    if (raw === undefined) return;
    const frame = decodeInputFrame(raw);
    if (frame.type === 'stdin' && stdinOpen) {
      // A command that exits without reading all of its input closes the connection: no error here,
      // the output side sees the end.
      if (!(await write(conn, frame.data, signal))) stdinOpen = false;
    } else if (frame.type === 'stdinClose' && stdinOpen) {
      stdinOpen = false;
      conn.end();
    } else if (frame.type === 'resize' && req.tty) {
      await exec.resize({ h: frame.size.height, w: frame.size.width }).catch(() => undefined);
    }
  }
}

/** Write and wait until the connection takes more; false when it is gone. */
async function write(conn: Duplex, data: Uint8Array, signal: AbortSignal): Promise<boolean> {
  if (conn.destroyed || conn.writableEnded) return false;
  if (conn.write(data)) return true;
  const waiting = new AbortController();
  const stop = AbortSignal.any([signal, waiting.signal]);
  try {
    await Promise.race([once(conn, 'drain', { signal: stop }), once(conn, 'close', { signal: stop })]);
  } catch {
    return false;
  } finally {
    waiting.abort(); // drops the listener that did not fire
  }
  return !conn.destroyed;
}

async function exitCode(exec: Docker.Exec): Promise<number> {
  const deadline = Date.now() + EXIT_WAIT_MS;
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode ?? -1;
    if (Date.now() > deadline)
      throw new ExecError(
        'the command still runs, but its stream has ended (detached: a TTY whose input closed?)',
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
