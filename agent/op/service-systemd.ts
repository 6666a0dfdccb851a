// The agent as a systemd unit: `<unitDir>/<name>.service` written by the op (ExecStart = the agent's
// argv, Restart=always), `systemctl daemon-reload` when it changed, `enable --now` / `restart` /
// `disable --now` (the unit file is removed on stop), `show` for the state. Needs systemd running as the
// init system (/run/systemd/system, as sd_booted() checks) and systemctl on PATH; else a clear error.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServiceSpecOf } from './op-schema.ts';
import { findOnPath } from './processes.ts';
import type { ServiceState } from './service.ts';

type Spec = ServiceSpecOf<'systemd'>;

const stopped: ServiceState = { mode: 'systemd', state: 'stopped', pid: null, command: null };

export const unitFile = (spec: Spec) => join(spec.unitDir, `${spec.name}.service`);

/** One ExecStart word: quoted when it has to be; `\`, `"` escaped; `%` and `$` doubled (specifiers). */
function execWord(w: string): string {
  const s = w.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function unitText(spec: Spec): string {
  return [
    '# Written by nokube (agent op, new-or-update over SSH); a rerun overwrites it.',
    '[Unit]',
    `Description=${spec.description}`,
    'Wants=network-online.target',
    'After=network-online.target docker.service',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${spec.command.map(execWord).join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${Math.max(1, Math.ceil(spec.stopTimeoutMs / 1000))}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** systemctl, when systemd is the running init system; else why not. */
export function systemctlPath(): string {
  const bin = findOnPath('systemctl');
  if (!bin) throw new Error('the systemd service mode needs systemctl, and it is not on PATH');
  if (!existsSync('/run/systemd/system'))
    throw new Error(
      'the systemd service mode needs systemd as the init system, and it is not running here (no /run/systemd/system)',
    );
  return bin;
}

async function systemctl(args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(systemctlPath(), args, { timeout: 120_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`systemctl ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

/** Writes the unit file when it differs; reloads systemd then. */
async function writeUnit(spec: Spec): Promise<void> {
  const path = unitFile(spec);
  const text = unitText(spec);
  if (existsSync(path) && (await readFile(path, 'utf8')) === text) return;
  systemctlPath(); // fail before writing anything where systemd cannot run it
  await mkdir(spec.unitDir, { recursive: true });
  await writeFile(`${path}.tmp`, text, { mode: 0o644 });
  await rename(`${path}.tmp`, path);
  await systemctl(['daemon-reload']);
}

export async function state(spec: Spec): Promise<ServiceState> {
  if (!existsSync(unitFile(spec))) return stopped;
  const props = new Map(
    (await systemctl(['show', '-p', 'ActiveState', '-p', 'MainPID', `${spec.name}.service`]))
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  const pid = Number(props.get('MainPID') ?? 0);
  if (props.get('ActiveState') !== 'active' || pid <= 0) return stopped;
  return { mode: 'systemd', state: 'running', pid, command: spec.command };
}

async function running(spec: Spec, verb: string): Promise<ServiceState> {
  // A unit that dies at once (bad flags, bad config) is a failed start.
  await new Promise((r) => setTimeout(r, 500));
  const now = await state(spec);
  if (now.state !== 'running')
    throw new Error(`${verb} ${spec.name}: the unit is not active (journalctl -u ${spec.name})`);
  return now;
}

export async function start(spec: Spec): Promise<ServiceState> {
  await writeUnit(spec);
  await systemctl(['enable', '--now', `${spec.name}.service`]);
  return running(spec, 'start');
}

export async function restart(spec: Spec): Promise<ServiceState> {
  await writeUnit(spec);
  await systemctl(['enable', `${spec.name}.service`]);
  await systemctl(['restart', `${spec.name}.service`]);
  return running(spec, 'restart');
}

export async function stop(spec: Spec): Promise<ServiceState> {
  const path = unitFile(spec);
  if (!existsSync(path)) return stopped;
  await systemctl(['disable', '--now', `${spec.name}.service`]);
  await rm(path, { force: true });
  await systemctl(['daemon-reload']);
  return stopped;
}
