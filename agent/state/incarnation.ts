// An agent's incarnation: when its process started (ms since the epoch), and never lower than the last
// one of this host's agent. Peers take a heartbeat or node record of a lower incarnation for a stale
// message of an old process and ignore it (agent/mesh/member-table.ts), so an agent whose clock went
// back across its restart — an edge host without a real-time clock boots with the time it last saved
// (fake-hwclock, systemd-timesyncd), often earlier than its previous agent's start, until NTP answers —
// would be dead in every peer's table until they forgot the old incarnation (an hour). Kept in
// <workspace>/agent/incarnation, written before the mesh starts (temp file, fsync, rename).
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { readIfPresent } from './config-cache.ts';

export const incarnationPath = (workspace: string) => join(workspace, 'agent', 'incarnation');

/** The last incarnation in `text`, or undefined if it is not one (a whole number of ms). */
export function parseIncarnation(text: string): number | undefined {
  const t = text.trim();
  if (!/^[1-9]\d{0,15}$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** This start's incarnation: the clock, or one past the last one when the clock is behind it. */
export function incarnationAfter(last: number | undefined, now: number): number {
  return last !== undefined && last >= now ? last + 1 : now;
}

/**
 * Read the last incarnation at `file`, choose this start's and write it back before returning. A file
 * that does not hold one (damaged: the agent's disk is its own business, its start is not stopped by it)
 * is said in the log with the file named, and the clock is taken.
 */
export async function nextIncarnation(file: string, log: Logger, now = Date.now()): Promise<number> {
  const text = await readIfPresent(file);
  const last = text === null ? undefined : parseIncarnation(text);
  if (text !== null && last === undefined)
    log.warn({ file }, 'the last incarnation file holds no incarnation: this start takes the clock');
  const incarnation = incarnationAfter(last, now);
  if (last !== undefined && incarnation !== now)
    log.warn(
      { last, clock: now, incarnation, behindMs: last - now },
      "the clock is behind this agent's last start: incarnation set one past it, so peers take this start for a new one",
    );
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${incarnation}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return incarnation;
}
