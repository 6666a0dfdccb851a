// What the audit log keeps of the gate's decisions (head/api/auth/gate.ts): every write, every exec and
// logs session, and every refusal; reads that were allowed are not kept (they change nothing). With ACL
// off the gate checks nothing but still reports every request, allowed, as anonymous (or as the client
// certificate the request came with, over a head with `tls`).

import type { Subject } from '../acl/subject.ts';
import type { AccessEvent } from '../api/auth/gate.ts';
import type { AuditRecord } from './audit-log.ts';

const AUDITED_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'delete', 'exec', 'logs']);

/** The record for one decision, or undefined when it is not audited. */
export function auditRecordOf(e: AccessEvent, now = new Date()): AuditRecord | undefined {
  if (e.allowed && !AUDITED_VERBS.has(e.access.verb)) return undefined;
  return {
    time: now.toISOString(),
    ...who(e.subject),
    verb: e.access.verb,
    resource: e.access.resource,
    ...(e.access.namespace === undefined ? {} : { namespace: e.access.namespace }),
    ...(e.access.name === undefined ? {} : { name: e.access.name }),
    result: e.allowed ? 'allowed' : 'denied',
    ...(e.allowed || !e.message ? {} : { reason: e.message }),
  };
}

/** Who, as the record names them. A new kind of subject must say here how it is named: the switch does
 * not compile until it does. */
function who(s: Subject): Pick<AuditRecord, 'user' | 'accessor' | 'certificate'> {
  switch (s.kind) {
    case 'token':
      return { user: s.name, accessor: s.accessor };
    case 'certificate':
      return { user: s.name, certificate: s.serial };
    case 'anonymous':
      return { user: 'anonymous' };
    default: {
      const unnamed: never = s;
      throw new Error(`audit: no name for subject ${JSON.stringify(unnamed)}`);
    }
  }
}
