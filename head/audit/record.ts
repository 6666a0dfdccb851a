// What the audit log keeps of the gate's decisions (head/api/auth/gate.ts): every write, every exec and
// logs session, and every refusal; reads that were allowed are not kept (they change nothing).
import type { AccessEvent } from '../api/auth/gate.ts';
import type { AuditRecord } from './audit-log.ts';

const AUDITED_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'delete', 'exec', 'logs']);

/** The record for one decision, or undefined when it is not audited. */
export function auditRecordOf(e: AccessEvent, now = new Date()): AuditRecord | undefined {
  if (e.allowed && !AUDITED_VERBS.has(e.access.verb)) return undefined;
  const s = e.subject;
  return {
    time: now.toISOString(),
    user: s.kind === 'token' ? s.name : 'anonymous',
    ...(s.kind === 'token' ? { accessor: s.accessor } : {}),
    verb: e.access.verb,
    resource: e.access.resource,
    ...(e.access.namespace === undefined ? {} : { namespace: e.access.namespace }),
    ...(e.access.name === undefined ? {} : { name: e.access.name }),
    result: e.allowed ? 'allowed' : 'denied',
    ...(e.allowed || !e.message ? {} : { reason: e.message }),
  };
}
