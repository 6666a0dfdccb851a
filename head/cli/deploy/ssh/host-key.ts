// Which host key a node must present: the one pinned in its config (nodes[].ssh.hostKey) or the lines
// of its known_hosts file for its address (plain, comma lists, "[host]:port" for other ports, hashed
// "|1|salt|hash" entries; @revoked lines refuse the key). No entry at all is an error, never a trust.
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface ExpectedHostKeys {
  /** Where the keys came from, for messages: "pinned in the config" or the file. */
  source: string;
  keys: Buffer[];
  revoked: Buffer[];
}

function blob(keyLine: string): Buffer {
  return Buffer.from(keyLine.trim().split(/\s+/)[1] ?? '', 'base64');
}

function hostPatternMatches(pattern: string, names: string[]): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    return names.some(
      (n) => createHmac('sha1', Buffer.from(salt!, 'base64')).update(n).digest('base64') === hash,
    );
  }
  return pattern.split(',').some((p) => names.includes(p));
}

export async function expectedHostKeys(
  address: string,
  port: number,
  ssh: { knownHosts?: string | undefined; hostKey?: string | undefined },
): Promise<ExpectedHostKeys> {
  if (ssh.hostKey !== undefined)
    return { source: 'pinned in the config', keys: [blob(ssh.hostKey)], revoked: [] };
  const file = ssh.knownHosts!;
  const names = port === 22 ? [address, `[${address}]:22`] : [`[${address}]:${port}`];
  const keys: Buffer[] = [];
  const revoked: Buffer[] = [];
  for (const raw of (await readFile(file, 'utf8')).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    if (!hostPatternMatches(fields[0] ?? '', names)) continue;
    const key = Buffer.from(fields[2] ?? '', 'base64');
    if (marker === '@revoked') revoked.push(key);
    else if (marker === undefined) keys.push(key);
  }
  if (keys.length === 0)
    throw new Error(`no host key for ${names[0]} in ${file} (add it: ssh-keyscan, then check it)`);
  return { source: file, keys, revoked };
}

export function hostKeyAccepted(expected: ExpectedHostKeys, presented: Buffer): boolean {
  if (expected.revoked.some((k) => k.equals(presented))) return false;
  return expected.keys.some((k) => k.equals(presented));
}
