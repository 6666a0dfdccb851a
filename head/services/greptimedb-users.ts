// The credentials of the GreptimeDB container a head starts (`monitoring.greptimedb.container` with
// `monitoring.greptimedb.auth`): GreptimeDB's static user provider reads `user=password` lines from a file
// (`--user-provider=static_user_provider:file:<path>`, src/auth/src/user_provider.rs). The head writes that
// file from the config's user and the password file, mode 0600 in a directory only its user may enter,
// and mounts the directory read-only: the password is never in the container's arguments, environment,
// labels or in a log line. GreptimeDB reads the file once, at start: a changed password restarts it.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readGreptimePassword } from '../../agent/telemetry/export/basic-auth.ts';

/** Where the users file is inside the container (its directory mounted read-only). */
export const USERS_DIR_IN_CONTAINER = '/greptimedb_auth';
export const USERS_FILE_IN_CONTAINER = `${USERS_DIR_IN_CONTAINER}/users`;

/** The head's directory for it: beside, not inside, GreptimeDB's data directory. */
export const usersDir = (workspace: string) => join(workspace, 'greptimedb-auth');

// GreptimeDB (1.1 and later) reads a password with one of these prefixes as a hashed verifier or strips it.
const VERIFIER_PREFIXES = ['plain:', 'pbkdf2_sha256:', 'mysql_native_password:', 'pg_scram_sha256:'];

/** Why GreptimeDB's file cannot hold this user and password as they are (it would skip or alter the line,
 * and refuse every request), or undefined. Never says what the password is. */
export function usersLineProblem(user: string, password: string): string | undefined {
  if (user.includes('=')) return `user "${user}" has a "=", which the users file cannot hold`;
  if (password.includes('=')) return 'the password has a "=", which the users file cannot hold';
  if (/[\r\n]/.test(password)) return 'the password has a line break inside it';
  if (password.trim() !== password)
    return 'the password starts or ends with white space, which GreptimeDB trims';
  const prefix = VERIFIER_PREFIXES.find((p) => password.startsWith(p));
  if (prefix) return `the password starts with "${prefix}", which GreptimeDB reads as a verifier format`;
  return undefined;
}

/** The users file's content for this config (one line), or an error naming the field and the file. */
export async function usersFileContent(user: string, passwordFile: string): Promise<string> {
  const password = await readGreptimePassword(passwordFile);
  const problem = usersLineProblem(user, password);
  if (problem)
    throw new Error(
      `monitoring.greptimedb.auth.passwordFile ${passwordFile}: ${problem} (GreptimeDB's static user provider, the container nokube starts)`,
    );
  return `${user}=${password}\n`;
}

/** Write `content` to `path` (mode 0600, its directory 0700) unless it holds it already; atomically, so
 * GreptimeDB never reads half a file. Returns whether it changed. */
export async function writePrivateIfChanged(path: string, content: string): Promise<boolean> {
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old === content) return false;
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = `${path}.tmp`;
  // A leftover of a crash may have another mode: the mode is only given to a file being created.
  await rm(tmp, { force: true });
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
  return true;
}
