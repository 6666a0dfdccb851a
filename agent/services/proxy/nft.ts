// The node's Services table in the kernel, through `nft` started with execFile (never a shell): load a
// planned table (one `nft -f -` transaction), read the digest its comment holds, remove it. Bounded in
// time and output; a missing `nft` or a refusal (no CAP_NET_ADMIN) is an error that says so.
import { execFile } from 'node:child_process';
import { COMMENT } from '../nft/plan.ts';

/** A load of 1,000 Services with 3 endpoints each is well under a second; this bounds a stuck one. */
const TIMEOUT_MS = 30_000;
/** `nft list` of a big table (terse: no set elements). */
const MAX_OUTPUT = 64 << 20;

export class NftError extends Error {}

function nft(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'nft',
      args,
      { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = (err as NodeJS.ErrnoException).code;
        const why =
          code === 'ENOENT'
            ? '`nft` not found (install nftables)'
            : /Operation not permitted/.test(stderr)
              ? '`nft` was refused: the agent needs CAP_NET_ADMIN (run it as root)'
              : `nft ${args.join(' ')}: ${(stderr || err.message).trim().split('\n').slice(0, 3).join('; ')}`;
        reject(new NftError(why));
      },
    );
    // A child that died at once (no nft) closes its stdin under us: the callback above says why.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/** Load a planned table: one transaction. */
export const loadTable = (text: string) => nft(['-f', '-'], text).then(() => undefined);

/** The digest in the table's comment; undefined when there is no such table (or no digest). */
export async function loadedDigest(table: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await nft(['-t', 'list', 'table', 'ip', table]);
  } catch (err) {
    if (/No such file or directory|does not exist/.test((err as Error).message)) return undefined;
    throw err;
  }
  const comment = /^\s*comment "([^"]*)"/m.exec(text)?.[1] ?? '';
  return comment.startsWith(`${COMMENT} `) ? comment.slice(COMMENT.length + 1) : undefined;
}

/** Remove the table if it is there (`nokube down`, test clusters): made to exist, then deleted, in one
 * transaction. */
export const removeTable = (table: string) =>
  nft(['-f', '-'], `add table ip ${table}\ndelete table ip ${table}\n`).then(() => undefined);
