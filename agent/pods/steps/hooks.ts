// Container hooks (k8s lifecycle postStart / preStop): a command run in the container through the
// engine, or an HTTP GET on the pod (host network: the node address). Each runs for at most `timeoutMs`
// and returns what went wrong (undefined = it succeeded); a hook never throws.
import type { Duplex } from 'node:stream';
import type { LifecycleHandler } from '../../objects/types.ts';
import { type ContainerRun, errorText } from './run.ts';

/** Hook output kept for the event message (the kubelet shows it too; a hook may print a lot). */
const OUTPUT_LIMIT = 1024;

export async function runHook(
  run: ContainerRun,
  handler: LifecycleHandler,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  void run.deps.clock.sleep(timeoutMs, stop.signal).then(() => {
    if (stop.signal.aborted) return;
    timedOut = true;
    stop.abort();
  });
  try {
    const failed = handler.exec
      ? await execHook(run, handler.exec.command, stop.signal)
      : await httpHook(run, handler.httpGet!, stop.signal);
    if (timedOut) return `timed out after ${Math.round(timeoutMs / 1000)}s`;
    if (stop.signal.aborted && failed) return `interrupted: ${failed}`;
    return failed;
  } catch (err) {
    return timedOut ? `timed out after ${Math.round(timeoutMs / 1000)}s` : errorText(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

async function execHook(
  run: ContainerRun,
  command: string[],
  signal: AbortSignal,
): Promise<string | undefined> {
  const exec = await run.deps.docker
    .getContainer(run.name)
    .exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = (await exec.start({})) as Duplex;
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (d: Buffer) => {
    if (size < OUTPUT_LIMIT * 4) chunks.push(d);
    size += d.length;
  });
  await new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      stream.destroy();
      done();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
    signal.addEventListener('abort', abort, { once: true });
  });
  if (signal.aborted) return 'stopped before the command ended';
  const code = (await exec.inspect()).ExitCode;
  if (code === 0) return undefined;
  const out = demux(Buffer.concat(chunks)).trim().slice(0, OUTPUT_LIMIT);
  return `command ${JSON.stringify(command)} exited with ${code}${out ? `: ${out}` : ''}`;
}

async function httpHook(
  run: ContainerRun,
  get: NonNullable<LifecycleHandler['httpGet']>,
  signal: AbortSignal,
): Promise<string | undefined> {
  const port =
    typeof get.port === 'number' ? get.port : run.c.ports?.find((p) => p.name === get.port)?.containerPort;
  if (port === undefined) return `port "${get.port}" is not a port of container ${run.c.name}`;
  const host = get.host ?? run.deps.address;
  const path = get.path ?? '/';
  const url = `${(get.scheme ?? 'HTTP').toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${port}${path.startsWith('/') ? '' : '/'}${path}`;
  const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
  const res = await fetch(url, { headers, signal, redirect: 'manual' });
  await res.body?.cancel();
  // k8s: 200 to 399 is success.
  return res.status >= 200 && res.status < 400 ? undefined : `HTTP GET ${url}: ${res.status}`;
}

/** Docker's multiplexed stream (8-byte frame headers) as text; text without headers as is. */
function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length && buf[at]! <= 2 && buf[at + 1] === 0) {
    const len = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  return at === 0 ? buf.toString('utf8') : Buffer.concat(parts).toString('utf8');
}
