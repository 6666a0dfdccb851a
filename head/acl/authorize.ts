// Policy evaluation: pure. A request is allowed when any of the subject's policies grants it; a refusal
// names the subject and what it lacks (`token "ci" (policy deployer) may not delete secrets in namespace
// "prod"`), never anything about other tokens or policies.
import {
  type Access,
  CLUSTER_RIGHTS,
  type ClusterRight,
  MANAGEMENT_POLICY,
  type Policy,
  type PolicyRule,
  SECRET_VALUES,
  type Verb,
} from './policy.ts';
import { type AccessRequest, describeSubject, type Subject } from './subject.ts';

export type Decision = { allowed: true } | { allowed: false; message: string };

const READ_VERBS: ReadonlySet<Verb> = new Set(['get', 'list', 'watch']);

const isClusterRight = (resource: string): resource is ClusterRight =>
  (CLUSTER_RIGHTS as readonly string[]).includes(resource);

/** The access a verb needs on a cluster right: reading verbs read, the others write. */
export const accessOf = (verb: Verb): Access => (READ_VERBS.has(verb) ? 'read' : 'write');

function ruleGrants(rule: PolicyRule, req: AccessRequest): boolean {
  const ns =
    rule.namespaces.includes('*') || (req.namespace !== undefined && rule.namespaces.includes(req.namespace));
  const resource =
    rule.resources.includes(req.resource) || (rule.resources.includes('*') && req.resource !== SECRET_VALUES);
  const verb = rule.verbs.includes('*') || rule.verbs.includes(req.verb);
  return ns && resource && verb;
}

export function policyGrants(policy: Policy, req: AccessRequest): boolean {
  if (isClusterRight(req.resource)) {
    const has = policy.cluster[req.resource];
    return has === 'write' || (has === 'read' && accessOf(req.verb) === 'read');
  }
  return policy.rules.some((r) => ruleGrants(r, req));
}

export function authorize(subject: Subject, req: AccessRequest): Decision {
  if (subject.policies.some((p) => policyGrants(p, req))) return { allowed: true };
  return { allowed: false, message: `${describeSubject(subject)} may not ${describeRequest(req)}` };
}

/** Whether the subject holds the management policy (admission: such a subject is not held to the
 * baseline): a token or a certificate (the CLI's, O=ops-admin). Only the built-in ops-admin counts, not a
 * policy that happens to grant as much. */
export function isManagement(subject: Subject): boolean {
  return subject.kind !== 'anonymous' && subject.policies.some((p) => p.name === MANAGEMENT_POLICY);
}

/** "delete secrets in namespace "prod"", "read logs of pods in ...", "write acl". */
export function describeRequest(req: AccessRequest): string {
  if (isClusterRight(req.resource)) return `${accessOf(req.verb)} ${req.resource}`;
  const where = req.namespace === undefined ? 'in all namespaces' : `in namespace "${req.namespace}"`;
  if (req.resource === SECRET_VALUES) return `see Secret values ${where} (secrets=show)`;
  if (req.verb === 'logs') return `read logs of ${req.resource} ${where}`;
  if (req.verb === 'exec') return `exec into ${req.resource} ${where}`;
  return `${req.verb} ${req.resource} ${where}`;
}
