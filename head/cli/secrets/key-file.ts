// Where the cluster's secrets keyring is on this machine (the one running up, new-or-update or
// `nokube secrets`): secrets.keyFile, else the documented default $NOKUBE_HOME/keys/<cluster>.json.
import { join } from 'node:path';
import type { ClusterConfig } from '../../../agent/config/schema.ts';
import { nokubeHome } from '../context.ts';

export const secretsKeyFile = (config: Pick<ClusterConfig, 'cluster' | 'secrets'>): string =>
  config.secrets?.keyFile ?? join(nokubeHome(), 'keys', `${config.cluster}.json`);
