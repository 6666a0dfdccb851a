// The agent service, whatever its mode: dispatches start/stop/restart/state to service-process.ts,
// service-docker.ts or service-systemd.ts, and keeps the record (spec.recordFile) of the service last
// started, so that a change of mode (or of name, pid file, socket, unit dir) stops the old service
// before the new one starts, and facts report the old one while it still runs.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ServiceMode, type ServiceSpec, serviceSpec } from './op-schema.ts';
import * as docker from './service-docker.ts';
import * as processMode from './service-process.ts';
import * as systemd from './service-systemd.ts';

export interface ServiceState {
  /** Absent in the answer of a binary older than the service modes: process. */
  mode?: ServiceMode;
  state: 'running' | 'stopped';
  /** The main process (docker: of the container, as the host sees it); a restart changes it. */
  pid: number | null;
  /** The command line it runs, when running. */
  command: string[] | null;
  /** docker: the container's id. */
  container?: string;
}

interface ModeOps {
  state(spec: ServiceSpec): Promise<ServiceState>;
  start(spec: ServiceSpec): Promise<ServiceState>;
  stop(spec: ServiceSpec): Promise<ServiceState>;
  restart(spec: ServiceSpec): Promise<ServiceState>;
}

const MODES = { process: processMode, docker, systemd } as unknown as Record<ServiceMode, ModeOps>;
const ops = (spec: ServiceSpec) => MODES[spec.mode];

/** What tells two services apart on a host: a spec with another key is another service. */
function serviceKey(spec: ServiceSpec): string {
  const where = spec.mode === 'process' ? spec.pidFile : spec.mode === 'docker' ? spec.socket : spec.unitDir;
  return `${spec.mode}:${spec.name}:${where}`;
}

/** The recorded service when it is another one than `spec` (null: none, the same, or unreadable). */
async function otherService(spec: ServiceSpec): Promise<ServiceSpec | null> {
  if (!spec.recordFile || !existsSync(spec.recordFile)) return null;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(spec.recordFile, 'utf8'));
  } catch {
    return null;
  }
  const r = serviceSpec.safeParse(json);
  if (!r.success || serviceKey(r.data) === serviceKey(spec)) return null;
  return r.data;
}

async function record(spec: ServiceSpec): Promise<void> {
  if (!spec.recordFile) return;
  await mkdir(dirname(spec.recordFile), { recursive: true });
  const tmp = `${spec.recordFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(spec)}\n`, { mode: 0o600 });
  await rename(tmp, spec.recordFile);
}

async function stopOther(spec: ServiceSpec): Promise<void> {
  const other = await otherService(spec);
  if (other) await ops(other).stop(other);
}

/** The state of the service `spec` describes; while a recorded service of another mode still runs, that
 * one's (its `mode` says which). */
export async function serviceState(spec: ServiceSpec): Promise<ServiceState> {
  const other = await otherService(spec);
  if (other) {
    const st = await ops(other).state(other);
    if (st.state === 'running') return st;
  }
  return ops(spec).state(spec);
}

export async function startService(spec: ServiceSpec): Promise<ServiceState> {
  await stopOther(spec);
  await record(spec);
  return ops(spec).start(spec);
}

export async function restartService(spec: ServiceSpec): Promise<ServiceState> {
  await stopOther(spec);
  await record(spec);
  return ops(spec).restart(spec);
}

export async function stopService(spec: ServiceSpec): Promise<ServiceState> {
  await stopOther(spec);
  const st = await ops(spec).stop(spec);
  if (spec.recordFile) await rm(spec.recordFile, { force: true });
  return st;
}
