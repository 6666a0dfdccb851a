// The agent's libp2p identity, kept in its workspace so its peer id survives restarts; and the mesh's
// private-network key (libp2p pnet swarm key), shared by every member of a cluster.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { generateKey } from '@libp2p/pnet';
import { AgentStartError } from '../errors.ts';

export async function loadOrCreatePeerKey(file: string): Promise<PrivateKey> {
  try {
    return privateKeyFromProtobuf(await readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`cannot read peer key ${file}: ${(err as Error).message}`);
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  return key;
}

/** Write a new swarm key (`/key/swarm/psk/1.0.0/` format) to `file`; refuses to overwrite. */
export async function createNetworkKey(file: string): Promise<void> {
  const key = new Uint8Array(95);
  generateKey(key);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, key, { mode: 0o600, flag: 'wx' });
}

export async function readNetworkKey(file: string): Promise<Uint8Array> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    throw new AgentStartError(
      `mesh.privateNetworkKeyFile ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (!key.toString('utf8').startsWith('/key/swarm/psk/1.0.0/')) {
    throw new AgentStartError(
      `mesh.privateNetworkKeyFile ${file}: not a swarm key (create one with: nokube mesh-key ${file})`,
    );
  }
  return new Uint8Array(key);
}
