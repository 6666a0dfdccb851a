// The keyring of this process. One agent (or CLI command) runs per process and its key file is a
// property of the process (agent flag --secrets-key), so it is held here rather than threaded through
// every reader of objects: agent/objects/store.ts seals and opens Secrets with it at the etcd boundary,
// the pods cache likewise. The file is watched: a new keyring (a rotation's new key) is taken without a
// restart; one that does not parse is refused and the old one kept.
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { type Keyring, readKeyringFile } from './keyring.ts';

let current: Keyring | undefined;

export const secretsKeyring = (): Keyring | undefined => current;

/** Tests and the CLI: use this keyring (undefined: none). */
export function useSecretsKeyring(k: Keyring | undefined): void {
  current = k;
}

/** Load `file` as this process's keyring and follow its changes until `stop`. */
export async function loadSecretsKeyFile(file: string, log: Logger): Promise<{ stop(): void }> {
  current = await readKeyringFile(file);
  log.info({ file, active: current.active, keys: [...current.keys.keys()] }, 'secrets keyring loaded');
  let timer: NodeJS.Timeout | undefined;
  const reload = async () => {
    try {
      const next = await readKeyringFile(file);
      const before = current;
      current = next;
      if (before?.active !== next.active || before.keys.size !== next.keys.size)
        log.info({ file, active: next.active, keys: [...next.keys.keys()] }, 'secrets keyring reloaded');
    } catch (err) {
      log.error(
        { file, err: (err as Error).message },
        'secrets keyring not reloaded; the previous one is kept',
      );
    }
  };
  // The folder is watched, not the file: a keyring is replaced by a rename (a new inode).
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== basename(file)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), 100);
    });
    watcher.on('error', (err) => log.warn({ file, err: err.message }, 'secrets key file watch failed'));
  } catch (err) {
    log.warn(
      { file, err: (err as Error).message },
      'secrets key file not watched: a new key needs a restart',
    );
  }
  return {
    stop() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
