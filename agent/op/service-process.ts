// The agent as a "process" service: a detached process (own session, stdio to its log file) whose pid
// file holds {pid, command}; state checks the pid is alive and still runs that command (pid reuse).
// start is a no-op when it already runs; stop sends SIGTERM and waits stopTimeoutMs, else fails.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ServiceSpecOf } from './op-schema.ts';
import { alive } from './processes.ts';
import type { ServiceState } from './service.ts';

type Spec = ServiceSpecOf<'process'>;

interface PidFile {
  pid: number;
  command: string[];
}

const stopped: ServiceState = { mode: 'process', state: 'stopped', pid: null, command: null };

async function readPidFile(path: string): Promise<PidFile | null> {
  if (!existsSync(path)) return null;
  return JSON.parse(await readFile(path, 'utf8')) as PidFile;
}

async function runsCommand(pid: number, command: string[]): Promise<boolean> {
  if (!alive(pid)) return false;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    return argv.includes(command[0]!);
  } catch {
    return false;
  }
}

export async function state(spec: Spec): Promise<ServiceState> {
  const p = await readPidFile(spec.pidFile);
  if (p && (await runsCommand(p.pid, p.command)))
    return { mode: 'process', state: 'running', pid: p.pid, command: p.command };
  return stopped;
}

export async function start(spec: Spec): Promise<ServiceState> {
  const now = await state(spec);
  if (now.state === 'running') return now;
  await mkdir(dirname(spec.logFile), { recursive: true });
  await mkdir(dirname(spec.pidFile), { recursive: true });
  const log = openSync(spec.logFile, 'a');
  const [cmd, ...args] = spec.command;
  const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`start ${spec.name}: ${err.message}`)));
    child.once('spawn', () => resolve(child.pid!));
  });
  child.unref();
  await writeFile(spec.pidFile, `${JSON.stringify({ pid, command: spec.command } satisfies PidFile)}\n`);
  // A service that dies at once (bad flags, bad config) is a failed start, not a running one.
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode !== null || !alive(pid)) {
    const tail = (await readFile(spec.logFile, 'utf8')).split('\n').slice(-5).join(' | ');
    throw new Error(
      `start ${spec.name}: exited at once (code ${child.exitCode}); log ${spec.logFile}: ${tail}`,
    );
  }
  return { mode: 'process', state: 'running', pid, command: spec.command };
}

export async function stop(spec: Spec): Promise<ServiceState> {
  const now = await state(spec);
  if (now.state === 'running' && now.pid !== null) {
    process.kill(now.pid, 'SIGTERM');
    const deadline = Date.now() + spec.stopTimeoutMs;
    while (alive(now.pid)) {
      if (Date.now() > deadline)
        throw new Error(
          `stop ${spec.name}: pid ${now.pid} still running ${spec.stopTimeoutMs} ms after SIGTERM`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await rm(spec.pidFile, { force: true });
  return stopped;
}

export async function restart(spec: Spec): Promise<ServiceState> {
  await stop(spec);
  return start(spec);
}
