// Who makes an API request. Attached to every request by the gate (head/api/auth/gate.ts); admission asks
// whether it is an admin, audit records it.
import type { Policy, Verb } from './policy.ts';

export type Subject =
  /** A request with a valid token: its policies as they were read for this request. */
  | { kind: 'token'; accessor: string; name: string; policies: readonly Policy[] }
  /** A request without a token over a TLS connection whose client certificate the cluster CA signed, as
   * Kubernetes maps one: its CN is the name, each O= names a policy (read for this request; one that does
   * not exist grants nothing). `serial` tells one certificate of that name from another (audit). */
  | { kind: 'certificate'; name: string; serial: string; policies: readonly Policy[] }
  /** A request without a token or certificate (only the anonymous policy applies). */
  | { kind: 'anonymous'; policies: readonly Policy[] };

/** What a request asks to do. `namespace` absent: a cluster right, or a list across all namespaces. */
export interface AccessRequest {
  verb: Verb;
  /** An object resource (`pods`, ...), `secrets/values`, or a cluster right (`config`, `nodes`, `acl`). */
  resource: string;
  namespace?: string;
  name?: string;
}

/** How a subject is named in messages and logs (never its secret). */
export function describeSubject(s: Subject): string {
  if (s.kind === 'anonymous') return 'a request without a token';
  const names = s.policies.map((p) => p.name);
  const policies =
    names.length === 0 ? 'no policy' : `${names.length === 1 ? 'policy' : 'policies'} ${names.join(', ')}`;
  return `${s.kind} "${s.name}" (${policies})`;
}

/** For logs and audit: the accessor and name, or the certificate's name and serial; nothing that lets
 * anyone in. */
export function subjectFields(s: Subject): Record<string, string> {
  if (s.kind === 'anonymous') return { subject: 'anonymous' };
  if (s.kind === 'certificate') return { certificate: s.name, serial: s.serial };
  return { accessor: s.accessor, token: s.name };
}
