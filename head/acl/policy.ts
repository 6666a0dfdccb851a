// ACL policies as data (seed 003, Nomad's anonymous / readonly / deployer / ops-admin): rules that grant
// verbs on resources in namespaces, and cluster-scoped rights (config, nodes, acl) to read or write.
// A policy is stored in etcd as JSON (acl/policies/<name>); `nokube acl policy apply -f` takes YAML.
import { z } from 'zod';
import { DNS_LABEL } from '../../agent/config/schema.ts';
import { RESOURCE } from '../../agent/objects/types.ts';

export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'delete', 'exec', 'logs'] as const;
export type Verb = (typeof VERBS)[number];

/** Secret values (`?secrets=show`) are a resource of their own, never covered by `*`: a policy that may
 * read everything still sees each value only as its size unless it names this. */
export const SECRET_VALUES = 'secrets/values';
export const OBJECT_RESOURCES = [...Object.values(RESOURCE), SECRET_VALUES];

export const CLUSTER_RIGHTS = ['config', 'nodes', 'acl'] as const;
export type ClusterRight = (typeof CLUSTER_RIGHTS)[number];
export type Access = 'read' | 'write';

const name = z.string().regex(DNS_LABEL, 'must be an RFC 1123 label (a-z, 0-9, "-", at most 63 characters)');

const rule = z.strictObject({
  namespaces: z.array(z.union([z.literal('*'), name])).min(1, 'names at least one namespace (or "*")'),
  resources: z
    .array(
      z.string().refine((r) => r === '*' || OBJECT_RESOURCES.includes(r), {
        message: `must be "*" or one of ${OBJECT_RESOURCES.join(', ')}`,
      }),
    )
    .min(1, 'names at least one resource (or "*")'),
  verbs: z.array(z.enum(['*', ...VERBS])).min(1, 'names at least one verb (or "*")'),
});

const access = z.enum(['read', 'write']);

export const policySchema = z.strictObject({
  name,
  description: z.string().max(1000).default(''),
  rules: z.array(rule).max(100).default([]),
  cluster: z
    .strictObject({ config: access.optional(), nodes: access.optional(), acl: access.optional() })
    .default({}),
});

export type Policy = z.output<typeof policySchema>;
export type PolicyRule = Policy['rules'][number];

const WORKLOADS = [
  'pods',
  'deployments',
  'replicasets',
  'daemonsets',
  'jobs',
  'cronjobs',
  'configmaps',
  'services',
  'imageprewarms',
  'poddisruptionbudgets',
];

/** The four policies `nokube acl bootstrap` stores (seed 003). ops-admin cannot be changed or deleted: it
 * is what keeps the cluster manageable; the others are defaults an operator may edit. */
export const BUILTIN_POLICIES: readonly Policy[] = [
  {
    name: 'anonymous',
    description:
      'requests without a token: nothing (the health checks /healthz, /readyz, /metrics and the console page /ui need none)',
    rules: [],
    cluster: {},
  },
  {
    name: 'readonly',
    description: 'read everything (logs too) but Secret values; no exec, no ACL',
    rules: [{ namespaces: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch', 'logs'] }],
    cluster: { config: 'read', nodes: 'read' },
  },
  {
    name: 'deployer',
    description:
      'CI/CD: create, update, delete and read workloads, Services and ConfigMaps, and their logs, in the namespaces named (edit to name yours); no Secrets, no exec, no config or ACL',
    rules: [
      {
        namespaces: ['default'],
        resources: WORKLOADS,
        verbs: ['get', 'list', 'watch', 'create', 'update', 'delete', 'logs'],
      },
    ],
    cluster: { nodes: 'read' },
  },
  {
    name: 'ops-admin',
    description: 'everything, Secret values and ACL management included',
    rules: [{ namespaces: ['*'], resources: ['*', SECRET_VALUES], verbs: ['*'] }],
    cluster: { config: 'write', nodes: 'write', acl: 'write' },
  },
];

export const MANAGEMENT_POLICY = 'ops-admin';
export const ANONYMOUS_POLICY = 'anonymous';

/** Parse a policy document (from YAML or JSON); problems as `path: message` lines. */
export function parsePolicy(value: unknown): { policy: Policy } | { problems: string[] } {
  const parsed = policySchema.safeParse(value);
  if (parsed.success) return { policy: parsed.data };
  return {
    problems: parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`),
  };
}
