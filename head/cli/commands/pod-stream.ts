// nokube logs / nokube exec: a pod's container output, streamed from its node through a head; exec -i
// sends our stdin the other way (-t: on a terminal).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';
import { decodeFrame } from '../../../agent/remote/frames.ts';
import { durationSeconds } from '../../../agent/text/duration.ts';
import { sendInput, TTY_UNUSABLE } from '../exec-input.ts';
import { type HeadFlags, liveHead, socketOptions } from '../head-client.ts';
import { whenRefused } from '../head-socket.ts';
import { signalExitCode } from '../output.ts';

interface StreamFlags extends HeadFlags {
  namespace: string;
  container?: string;
}

const headOptions = (c: Command) =>
  c
    .option('-n, --namespace <ns>', 'namespace of the pod', 'default')
    .option('-c, --container <name>', 'container of the pod (needed when it has several)')
    .option('--server <url>', 'head API URL (env NOKUBE_SERVER); default: a head found in etcd')
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (env NOKUBE_ETCD)')
    .option('--cluster <name>', 'cluster name (env NOKUBE_CLUSTER)');

export function registerPodStreams(program: Command): void {
  headOptions(
    program
      .command('logs')
      .argument('<pod>', 'pod name')
      .description("print a pod container's logs (stdout and stderr), from the node that runs it")
      .option('-f, --follow', 'keep streaming new lines', false)
      .option('--tail <lines>', 'only the last N lines')
      .option('--since <duration>', 'only lines newer than this (e.g. 30s, 5m, 2h)')
      .option('--timestamps', 'prefix each line with its RFC 3339 time', false),
  ).action(
    async (
      pod: string,
      opts: StreamFlags & { follow: boolean; tail?: string; since?: string; timestamps: boolean },
    ) => {
      const q = new URLSearchParams();
      if (opts.container) q.set('container', opts.container);
      if (opts.follow) q.set('follow', 'true');
      if (opts.timestamps) q.set('timestamps', 'true');
      if (opts.tail !== undefined) q.set('tailLines', String(nonNegativeInt('--tail', opts.tail)));
      if (opts.since !== undefined) q.set('sinceSeconds', String(parseDuration(opts.since)));
      await stream(opts, `/api/v1/namespaces/${enc(opts.namespace)}/pods/${enc(pod)}/log?${q}`);
    },
  );
  headOptions(
    program
      .command('exec')
      .argument('<pod>', 'pod name')
      .argument('<command...>', 'the command and its arguments, after --')
      .usage('<pod> [options] -- <command> [args...]')
      .description(
        "run a command in a pod's running container; prints its output and exits with its exit code",
      )
      .option('-i, --stdin', "pass this process's stdin to the command (its end ends the command's)", false)
      .option('-t, --tty', 'run the command on a terminal (with -i, when stdin is a terminal)', false),
  ).action(async (pod: string, command: string[], opts: StreamFlags & { stdin: boolean; tty: boolean }) => {
    // As kubectl: -t needs -i, and a terminal to read from; without one it warns and goes on without.
    const tty = opts.tty && opts.stdin && process.stdin.isTTY === true;
    if (opts.tty && opts.stdin && !tty) process.stderr.write(`${TTY_UNUSABLE}\n`);
    const q = new URLSearchParams();
    if (opts.container) q.set('container', opts.container);
    for (const part of command) q.append('command', part);
    if (opts.stdin) q.set('stdin', 'true');
    if (tty) q.set('tty', 'true');
    const path = `/api/v1/namespaces/${enc(opts.namespace)}/pods/${enc(pod)}/exec?${q}`;
    const code = await stream(opts, path, opts.stdin ? { tty } : undefined);
    if (code !== undefined) process.exitCode = code;
  });
}

const enc = encodeURIComponent;

function nonNegativeInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} ${text}: expected a whole number >= 0`);
  return n;
}

/** "30s", "5m", "2h", "1h30m" -> seconds (kubectl's --since, delete's --timeout). */
export function parseDuration(text: string, flag = '--since'): number {
  const seconds = durationSeconds(text);
  if (seconds === undefined) throw new UsageError(`${flag} ${text}: expected a duration such as 30s, 5m, 2h`);
  if (seconds <= 0) throw new UsageError(`${flag} ${text}: must be more than 0s`);
  return seconds;
}

/** Relay frames to stdout/stderr (and, with `input`, stdin the other way); resolves with the exit code
 * an exec reported. */
async function stream(flags: HeadFlags, path: string, input?: { tty: boolean }): Promise<number | undefined> {
  const head = await liveHead(flags);
  const { server } = head;
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`${server.replace(/^http/, 'ws')}${path}`, socketOptions(head));
  let stopInput = () => {};
  if (input)
    ws.once('open', () => {
      stopInput = sendInput(ws, input.tty);
    });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const stops: Array<[NodeJS.Signals, () => void]> = [];
  try {
    return await new Promise<number | undefined>((resolve, reject) => {
      let ended = false;
      whenRefused(ws, (err) => {
        ended = true;
        reject(err);
      });
      ws.on('message', (data: Buffer) => {
        const frame = decodeFrame(new Uint8Array(data));
        if (frame.type === 'end') {
          ended = true;
          if (frame.end.error) reject(new Error(frame.end.error));
          else resolve(frame.end.exitCode);
          ws.close();
          return;
        }
        const out = frame.type === 'stdout' ? process.stdout : process.stderr;
        if (!out.write(frame.data)) {
          ws.pause();
          out.once('drain', () => ws.resume());
        }
      });
      ws.on('error', (err) => reject(new Error(`${server}: ${err.message}`)));
      ws.on('close', (code) => {
        if (!ended) reject(new Error(`${server}: stream closed before its end (code ${code})`));
      });
      for (const signal of signals) {
        const stop = () => {
          ended = true;
          ws.close();
          resolve(signalExitCode(signal));
        };
        stops.push([signal, stop]);
        process.once(signal, stop);
      }
    });
  } finally {
    stopInput();
    for (const [signal, stop] of stops) process.off(signal, stop);
  }
}
