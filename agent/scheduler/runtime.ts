// Feasibility: the node has a container engine. null means the agent found none at start (it runs no
// pods); undefined is a record from an agent older than the field, taken as having one.
import type { Checker } from './types.ts';

export const hasContainerRuntime: Checker = (node) =>
  node.capacity?.containerRuntime === null ? 'node(s) had no container runtime' : null;
