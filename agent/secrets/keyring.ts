// The cluster's secrets keyring: AES-256 keys by id and which one encrypts new writes. It lives in a file
// on the heads and agents (never in etcd), JSON, mode 0600:
//   {"nokube/keyring": "v1", "active": "<key id>", "keys": {"<key id>": "<base64 of 32 bytes>"}}
// Several keys so a rotation can read Secrets under the old key while rewriting them under the new one.
// No error here ever carries key material: only file names and key ids.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface Keyring {
  active: string;
  keys: ReadonlyMap<string, Buffer>;
}

const FORMAT = 'v1';
const KEY_BYTES = 32;
const KEY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class KeyringError extends Error {
  override name = 'KeyringError';
  /** The file system's error code when the file could not be read (ENOENT: there is none). */
  code?: string;
}

/** A key id that sorts by creation time and never repeats: `k<yyyymmddhhmmss>-<6 hex>`. */
export function newKeyId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `k${stamp}-${randomBytes(3).toString('hex')}`;
}

export function newKeyring(): Keyring {
  const id = newKeyId();
  return { active: id, keys: new Map([[id, randomBytes(KEY_BYTES)]]) };
}

/** The keyring with one more key, made the active one (the old keys stay readable). */
export function withNewActiveKey(k: Keyring): Keyring {
  const id = newKeyId();
  return { active: id, keys: new Map([...k.keys, [id, randomBytes(KEY_BYTES)]]) };
}

/** The keyring without `id`; the active key cannot be dropped. */
export function withoutKey(k: Keyring, id: string): Keyring {
  if (id === k.active) throw new KeyringError(`key "${id}" is the active key; rotate to a new one first`);
  if (!k.keys.has(id)) throw new KeyringError(`no key "${id}" in the keyring`);
  return { active: k.active, keys: new Map([...k.keys].filter(([kid]) => kid !== id)) };
}

export function parseKeyring(text: string, file: string): Keyring {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new KeyringError(`secrets key file ${file}: not JSON`);
  }
  const r = raw as { 'nokube/keyring'?: unknown; active?: unknown; keys?: unknown };
  const bad = (why: string) => new KeyringError(`secrets key file ${file}: ${why}`);
  if (r === null || typeof r !== 'object' || r['nokube/keyring'] !== FORMAT)
    throw bad(`not a nokube keyring ("nokube/keyring": "${FORMAT}" missing)`);
  if (r.keys === null || typeof r.keys !== 'object' || Array.isArray(r.keys))
    throw bad('"keys" is not a map');
  const keys = new Map<string, Buffer>();
  for (const [id, b64] of Object.entries(r.keys as Record<string, unknown>)) {
    if (!KEY_ID.test(id)) throw bad(`key id "${id}" is not [a-z0-9-] (at most 63)`);
    const key = typeof b64 === 'string' ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) throw bad(`key "${id}" is not ${KEY_BYTES} bytes of base64`);
    keys.set(id, key);
  }
  if (typeof r.active !== 'string' || !keys.has(r.active))
    throw bad(`"active" must name one of its keys (${[...keys.keys()].join(', ') || 'none'})`);
  return { active: r.active, keys };
}

export function formatKeyring(k: Keyring): string {
  const keys = Object.fromEntries([...k.keys].map(([id, key]) => [id, key.toString('base64')]));
  return `${JSON.stringify({ 'nokube/keyring': FORMAT, active: k.active, keys }, null, 2)}\n`;
}

/** Read and check a keyring file: it must be readable by its owner only (it decrypts every Secret). */
export async function readKeyringFile(file: string): Promise<Keyring> {
  let text: string;
  try {
    const st = await stat(file);
    if ((st.mode & 0o077) !== 0)
      throw new KeyringError(
        `secrets key file ${file}: readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${file}`,
      );
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof KeyringError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const e = new KeyringError(`secrets key file ${file}: ${code ?? (err as Error).message}`);
    if (code) e.code = code;
    throw e;
  }
  return parseKeyring(text, file);
}

/** Write whole or not at all (temp file, then rename; mode 0600, folder 0700): a watcher never reads
 * half a keyring. */
export async function writeKeyringFile(file: string, k: Keyring): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, formatKeyring(k), { mode: 0o600 });
  await rename(tmp, file);
}

/** The keyring at `file`, made (one new key) when there is none: what `up` and `new-or-update` do. */
export async function ensureKeyringFile(file: string): Promise<{ keyring: Keyring; created: boolean }> {
  try {
    return { keyring: await readKeyringFile(file), created: false };
  } catch (err) {
    if ((err as KeyringError).code !== 'ENOENT') throw err;
  }
  const keyring = newKeyring();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // `wx`: two bring-ups at once never overwrite each other's key.
  try {
    await writeFile(file, formatKeyring(keyring), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return { keyring: await readKeyringFile(file), created: false };
    throw err;
  }
  return { keyring, created: true };
}
