// A command run in the container through the engine (docker exec), its output kept for the message.
// One that outlives its action (past its timeout, or the pod stopping) is killed: the engine has no way
// to cancel an exec, and abandoned ones piled up under load (33 runc processes at once in bench/probes).
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { type ActionTarget, OUTPUT_LIMIT } from './target.ts';

export async function execAction(
  target: ActionTarget,
  command: string[],
  signal: AbortSignal,
): Promise<string | undefined> {
  const exec = await target.deps.docker
    .getContainer(target.name)
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
      void killExec(exec);
      done();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
  if (signal.aborted) return 'stopped before the command ended';
  const code = (await exec.inspect()).ExitCode;
  if (code === 0) return undefined;
  const out = demux(Buffer.concat(chunks)).trim().slice(0, OUTPUT_LIMIT);
  return `command ${JSON.stringify(command)} exited with ${code}${out ? `: ${out}` : ''}`;
}

/** SIGKILL to a running exec's process, when this agent sees it as the engine does: its /proc entry is in
 * the container's cgroup (an agent in a container of its own, with its own pid namespace, sees another
 * process under that number, or none, and kills nothing). Best effort: gone already is fine. */
async function killExec(exec: {
  inspect(): Promise<{ Running: boolean; Pid: number; ContainerID: string }>;
}): Promise<void> {
  try {
    const info = await exec.inspect();
    if (!info.Running || !(info.Pid > 0)) return;
    const cgroup = await readFile(`/proc/${info.Pid}/cgroup`, 'utf8');
    if (!cgroup.includes(info.ContainerID)) return;
    process.kill(info.Pid, 'SIGKILL');
  } catch {
    // it ended meanwhile, or the engine does not answer: nothing to kill from here
  }
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
