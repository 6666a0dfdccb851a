// A container's termination message, as the kubelet reads it: what the container wrote to its
// `terminationMessagePath` (a file of this agent's bound there; at most 4096 bytes), else, with
// `terminationMessagePolicy: FallbackToLogsOnError` and a failed exit, the end of its log (the last 80
// lines, at most 2048 bytes). Read once per exit and remembered; the file is emptied then, so the next run
// of the container starts with none.
import { mkdir, open, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ContainerRun } from './run.ts';

const FILE_MAX_BYTES = 4096;
const LOG_LINES = 80;
const LOG_MAX_BYTES = 2048;

/** The host file bound at the container's terminationMessagePath: made empty, writable by any user
 * (the container may run as one). */
export async function ensureTerminationLog(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const fh = await open(file, 'a', 0o666);
  try {
    await fh.chmod(0o666);
  } finally {
    await fh.close();
  }
}

/** The message of the exit `exitKey` (undefined: none). */
export async function terminationMessage(
  run: ContainerRun,
  exitKey: string,
  exitCode: number,
): Promise<string | undefined> {
  const { t } = run;
  if (t.message?.exit === exitKey) return t.message.text;
  let text = run.terminationLog ? await readHead(run.terminationLog) : '';
  if (run.terminationLog) await truncate(run.terminationLog).catch(() => undefined);
  if (text === '' && exitCode !== 0 && run.c.terminationMessagePolicy === 'FallbackToLogsOnError')
    text = await logTail(run);
  t.message = { exit: exitKey, text };
  return text === '' ? undefined : text;
}

async function readHead(file: string): Promise<string> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const buf = Buffer.alloc(FILE_MAX_BYTES);
    const { bytesRead } = await fh.read(buf, 0, FILE_MAX_BYTES, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The last lines of the container's log (stdout and stderr, Docker's multiplexed frames). */
async function logTail(run: ContainerRun): Promise<string> {
  const raw = (await run.deps.docker
    .getContainer(run.name)
    .logs({ stdout: true, stderr: true, tail: LOG_LINES, follow: false })
    .catch(() => Buffer.alloc(0))) as unknown as Buffer;
  const text = demux(raw);
  return Buffer.from(text).subarray(-LOG_MAX_BYTES).toString('utf8');
}

/** Docker's log frames (8-byte header: stream, 0, 0, 0, length) to text; a TTY's log is plain. */
function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (
    at + 8 <= buf.length &&
    buf[at]! <= 2 &&
    buf[at + 1] === 0 &&
    buf[at + 2] === 0 &&
    buf[at + 3] === 0
  ) {
    const size = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return at === 0 ? buf.toString('utf8') : Buffer.concat(parts).toString('utf8');
}
