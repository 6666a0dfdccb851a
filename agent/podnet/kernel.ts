// The kernel, through iproute2 and nftables: execFile with arguments (never a shell), each call bounded
// in time and output. `ip -batch -` and `nft -f -` take several commands as one call; nft applies a file
// as one transaction.
import { execFile } from 'node:child_process';

const TIMEOUT_MS = 5000;
const MAX_OUTPUT = 1 << 20;

export class KernelError extends Error {}

export function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const what = [file, ...args].join(' ');
          reject(
            new KernelError(`${what}: ${(stderr || err.message).trim().split('\n').slice(0, 3).join('; ')}`),
          );
        } else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `ip -j <args>` parsed; null when the device named does not exist. */
export async function ipJson<T>(args: string[]): Promise<T | null> {
  try {
    const out = await run('ip', ['-j', ...args]);
    return (out.trim() ? JSON.parse(out) : []) as T;
  } catch (err) {
    if (/does not exist|Cannot find device/.test((err as Error).message)) return null;
    throw err;
  }
}

/** Several `ip` commands in one call, in the host's namespace or (pid) in that process's network namespace. */
export function ipBatch(lines: string[], netnsOfPid?: number): Promise<string> {
  const input = `${lines.join('\n')}\n`;
  return netnsOfPid === undefined
    ? run('ip', ['-batch', '-'], input)
    : run('nsenter', [`--net=/proc/${netnsOfPid}/ns/net`, 'ip', '-batch', '-'], input);
}

/** `ip -j <args>` inside a process's network namespace. */
export async function ipJsonIn<T>(pid: number, args: string[]): Promise<T | null> {
  try {
    const out = await run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', ...args]);
    return (out.trim() ? JSON.parse(out) : []) as T;
  } catch (err) {
    if (/does not exist|Cannot find device/.test((err as Error).message)) return null;
    throw err;
  }
}

/** Apply an nftables file as one transaction. */
export const nftApply = (text: string) => run('nft', ['-f', '-'], text);

/** `nft <args>` as text (nft 1.0's JSON leaves out table comments); null when the table named does not
 * exist. */
export async function nftText(args: string[]): Promise<string | null> {
  try {
    return await run('nft', args);
  } catch (err) {
    if (/No such file or directory|does not exist/.test((err as Error).message)) return null;
    throw err;
  }
}
