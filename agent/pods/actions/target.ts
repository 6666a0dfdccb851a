// What an action needs of its container: the engine's name for it, its spec (named ports), the pod IP.
import type { Container } from '../../objects/types.ts';
import type { Clock } from '../clock.ts';
import type { PodDocker } from '../steps/run.ts';

export interface ActionTarget {
  /** Docker's name of the container. */
  name: string;
  c: Container;
  deps: {
    docker: PodDocker;
    clock: Clock;
    /** The pod IP: pods use the host network, so the node's address. */
    address: string;
  };
}

/** Output kept for an event message (the kubelet shows it too; a command may print a lot). */
export const OUTPUT_LIMIT = 1024;

/** A port number, or the number of the container's port of that name; undefined when it has none
 * (validation refuses that for probes; a hook stored before may still name one). */
export function resolvePort(target: ActionTarget, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return target.c.ports?.find((p) => p.name === port)?.containerPort;
}

export const noSuchPort = (target: ActionTarget, port: number | string): string =>
  `port "${port}" is not a port of container ${target.c.name}`;

/** host:port, IPv6 in brackets. */
export const hostPort = (host: string, port: number): string =>
  `${host.includes(':') ? `[${host}]` : host}:${port}`;
