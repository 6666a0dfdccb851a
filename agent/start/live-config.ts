// The cluster config this agent runs on: the boot config, then every change stored in etcd that is
// valid and still names this node (anything else is logged and the last good config kept).
import type { ClusterConfig, NodeConfig, Role } from '../config/schema.ts';
import { ConfigError, validateConfigText } from '../config/validate.ts';
import { AgentStartError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { keys } from '../store/keys.ts';

export class LiveConfig {
  private readonly cluster: string;
  private readonly nodeName: string;
  private readonly log: Logger;
  private current: ClusterConfig;
  private currentVersion: number | null;
  private currentSelf: NodeConfig;

  /** Throws (AgentStartError) when the boot config does not name this node or lacks `requireRole`. */
  constructor(
    at: { cluster: string; nodeName: string; log: Logger; requireRole?: Role | undefined },
    boot: { config: ClusterConfig; version: number | null; from: string },
  ) {
    this.cluster = at.cluster;
    this.nodeName = at.nodeName;
    this.log = at.log;
    this.current = boot.config;
    this.currentVersion = boot.version;
    this.currentSelf = findSelf(boot.config, at.nodeName, boot.from);
    if (at.requireRole && !this.currentSelf.roles.includes(at.requireRole)) {
      throw new AgentStartError(
        `node "${at.nodeName}" has no ${at.requireRole} role in the cluster config (nodes[].roles)`,
      );
    }
  }

  config(): ClusterConfig {
    return this.current;
  }

  version(): number | null {
    return this.currentVersion;
  }

  self(): NodeConfig {
    return this.currentSelf;
  }

  /** A config text stored in etcd at `version`: true when taken, false when ignored (and logged why). */
  take(text: string, version: number): boolean {
    let next: ClusterConfig;
    try {
      next = validateConfigText(text, keys.config(this.cluster)).config;
    } catch (err) {
      this.log.error(
        { err: err instanceof ConfigError ? err.message : String(err) },
        'ignoring invalid config in etcd',
      );
      return false;
    }
    const nextSelf = next.nodes.find((n) => n.name === this.nodeName);
    if (!nextSelf) {
      this.log.error(
        `node "${this.nodeName}" was removed from the cluster config; keeping the last config until stopped`,
      );
      return false;
    }
    this.current = next;
    this.currentVersion = version;
    this.currentSelf = nextSelf;
    return true;
  }
}

function findSelf(config: ClusterConfig, nodeName: string, from: string): NodeConfig {
  const self = config.nodes.find((n) => n.name === nodeName);
  if (!self) {
    const names = config.nodes.map((n) => n.name).join(', ');
    throw new AgentStartError(
      `node "${nodeName}" is not in the cluster config (from ${from}); nodes are: ${names}`,
    );
  }
  return self;
}
