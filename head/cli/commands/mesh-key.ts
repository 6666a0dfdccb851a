// nokube mesh-key FILE: create the mesh's private-network key (set mesh.privateNetworkKeyFile to its path
// and copy the same file to every node).
import type { Command } from 'commander';
import { UsageError } from '../../../agent/errors.ts';

export function registerMeshKey(program: Command): void {
  program
    .command('mesh-key <file>')
    .description('write a new private-network key for the mesh (libp2p pnet swarm key); never overwrites')
    .action(async (file: string) => {
      const { createNetworkKey } = await import('../../../agent/mesh/peer-key.ts');
      try {
        await createNetworkKey(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new UsageError(`${file} already exists; not overwriting it`);
        throw err;
      }
      process.stdout.write(
        `wrote ${file}; set mesh.privateNetworkKeyFile to its path and copy it to every node\n`,
      );
    });
}
