// What the agent runs against a container, for hooks (postStart, preStop) and probes alike: a command
// in the container through the engine, an HTTP GET, a TCP connect or a gRPC health check on the pod
// (host network: the node address). Each runs for at most `timeoutMs` and returns what went wrong
// (undefined = it succeeded); an action never throws.
import type { ProbeHandler } from '../../objects/types.ts';
import { errorText } from '../steps/run.ts';
import { execAction } from './exec.ts';
import { grpcAction } from './grpc.ts';
import { httpGetAction } from './http-get.ts';
import type { ActionTarget } from './target.ts';
import { tcpSocketAction } from './tcp-socket.ts';

export async function runAction(
  target: ActionTarget,
  handler: ProbeHandler,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(STOPPED);
  signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  void target.deps.clock.sleep(timeoutMs, stop.signal).then(() => {
    if (stop.signal.aborted) return;
    timedOut = true;
    stop.abort(TIMED_OUT);
  });
  const timeout = () => `timed out after ${Math.round(timeoutMs / 1000)}s`;
  try {
    const failed = handler.exec
      ? await execAction(target, handler.exec.command, stop.signal)
      : handler.httpGet
        ? await httpGetAction(target, handler.httpGet, stop.signal)
        : handler.tcpSocket
          ? await tcpSocketAction(target, handler.tcpSocket, stop.signal)
          : await grpcAction(target, handler.grpc!, stop.signal);
    if (timedOut) return timeout();
    if (stop.signal.aborted && failed) return `interrupted: ${failed}`;
    return failed;
  } catch (err) {
    return timedOut ? timeout() : errorText(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stop.abort(DONE);
  }
}

// Abort reasons: given, no DOMException (and its stack) is made at every action's end, hundreds a second
// with many probes.
const STOPPED = 'stopped';
const TIMED_OUT = 'timed out';
const DONE = 'done';
