// The one place every head request passes (server.ts): who is asking (authenticate: a Subject from the
// bearer token, read from etcd for each request, so a revoked or expired token is refused at once on
// every head; without a token, from the client certificate the TLS handshake verified), and whether it
// may (authorizeRequest: the subject's policies, head/acl/authorize.ts).
// Admission (is this an admin?) reads the subject with authOf(req); audit registers an observer and
// hears every decision. With `acl.enabled` off nothing is checked and the subject is anonymous.
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { AgentContext } from '../../../agent/context.ts';
import { authorize, describeRequest } from '../../acl/authorize.ts';
import { anonymousSubject, certificateSubject, subjectOfSecret } from '../../acl/store.ts';
import type { AccessRequest, Subject } from '../../acl/subject.ts';
import { HttpError } from '../http-error.ts';
import { clientCertificateOf } from './client-certificate.ts';
import { credentialOf } from './credentials.ts';

export interface RequestAuth {
  subject: Subject;
  /** `acl.enabled` when the request came: false lets everything through (and nothing was read). */
  enforced: boolean;
}

/** One decision, for audit: who, what, allowed or refused (and why). */
export interface AccessEvent {
  subject: Subject;
  access: AccessRequest;
  allowed: boolean;
  message?: string;
}
export type AccessObserver = (event: AccessEvent) => void;

/** An open stream (watch, logs -f, exec) is checked again this often: a token revoked or expired while
 * it runs loses it within this time. */
export const STREAM_RECHECK_MS = 10_000;

const UNAUTHENTICATED_HINT = 'log in with a token (`nokube login`, or NOKUBE_TOKEN)';

interface Admitted {
  auth: RequestAuth;
  gate: Gate;
  /** Resolve the same credential again (open streams). */
  again: () => Promise<RequestAuth>;
}
const admitted = new WeakMap<IncomingMessage, Admitted>();

/** The subject of a request the gate admitted (admission, audit, handlers). */
export function authOf(req: IncomingMessage): RequestAuth {
  const a = admitted.get(req);
  if (!a) throw new Error('request did not pass the gate');
  return a.auth;
}

export class Gate {
  private readonly ctx: AgentContext;
  private readonly observers = new Set<AccessObserver>();

  constructor(ctx: AgentContext) {
    this.ctx = ctx;
  }

  get enabled(): boolean {
    return this.ctx.config().acl?.enabled === true;
  }

  /** Audit's hook: every decision, and with ACL off every request (allowed, unchecked). Returns `off`. */
  observe(fn: AccessObserver): () => void {
    this.observers.add(fn);
    return () => this.observers.delete(fn);
  }

  /** Who asks. A bearer token, when one is sent, decides alone (a bad one is 401, never a fall back to
   * the certificate): `NOKUBE_TOKEN=<ci's>` on an operator's machine acts as ci, not as its cli.pem.
   * Without a token, a client certificate the cluster CA signed (head with `tls`); else anonymous.
   * Throws HttpError 401 for a malformed, unknown, revoked or expired token, or a certificate without a
   * CN, expired (a connection or stream may outlive it) or on the deny-list; an etcd failure propagates (answered 503: nobody is let in unchecked). */
  async admit(req: IncomingMessage): Promise<RequestAuth> {
    const resolve = async (): Promise<RequestAuth> => {
      if (!this.enabled) return { subject: uncheckedSubject(req), enforced: false };
      const { etcd, cluster } = this.ctx;
      const cred = credentialOf(req);
      if ('malformed' in cred) throw new HttpError(401, cred.malformed);
      if ('none' in cred) {
        const cert = clientCertificateOf(req);
        if (!cert) return { subject: await anonymousSubject(etcd, cluster), enforced: true };
        if (!cert.name) throw new HttpError(401, 'the client certificate names no one (it has no CN)');
        if (!(Date.now() < cert.notAfter)) throw new HttpError(401, 'the client certificate has expired');
        const bySerial = await certificateSubject(etcd, cluster, cert);
        if ('refused' in bySerial) throw new HttpError(401, bySerial.refused);
        return { subject: bySerial, enforced: true };
      }
      const subject = await subjectOfSecret(etcd, cluster, cred.secret);
      if ('refused' in subject) throw new HttpError(401, subject.refused);
      return { subject, enforced: true };
    };
    const auth = await resolve();
    admitted.set(req, { auth, gate: this, again: resolve });
    return auth;
  }

  decide(auth: RequestAuth, access: AccessRequest): void {
    // ACL off: nothing is checked, but audit still hears every request.
    if (!auth.enforced) {
      this.tell({ subject: auth.subject, access, allowed: true });
      return;
    }
    const d = authorize(auth.subject, access);
    this.tell(
      d.allowed
        ? { subject: auth.subject, access, allowed: true }
        : { subject: auth.subject, access, allowed: false, message: d.message },
    );
    if (d.allowed) return;
    // Without a token the answer is 401: what is missing is a token, not a right.
    if (auth.subject.kind === 'anonymous')
      throw new HttpError(
        401,
        `a request without a token may not ${describeRequest(access)}: ${UNAUTHENTICATED_HINT}`,
      );
    throw new HttpError(403, d.message);
  }

  private tell(event: AccessEvent): void {
    for (const fn of this.observers) {
      try {
        fn(event);
      } catch (err) {
        this.ctx.log.error({ err: String(err) }, 'access observer threw');
      }
    }
  }

  /** Check an open stream again every STREAM_RECHECK_MS; `close` is called once when it is refused. */
  recheck(req: IncomingMessage, ws: WebSocket, access: AccessRequest[], close: (why: string) => void): void {
    const a = admitted.get(req);
    if (!a?.auth.enforced) return;
    const timer = setInterval(() => {
      a.again()
        .then((auth) => {
          for (const x of access) this.decide(auth, x);
        })
        .catch((err: Error) => {
          // Fail closed: a token that cannot be checked (etcd unreachable) may have been revoked.
          clearInterval(timer);
          close(err instanceof HttpError ? err.message : 'the token cannot be checked: etcd does not answer');
        });
    }, STREAM_RECHECK_MS);
    timer.unref();
    ws.once('close', () => clearInterval(timer));
  }
}

/** With ACL off, who a request is for audit only (nothing is checked or read from etcd, no policy
 * applies): the client certificate the TLS front verified, when it came with one; else anonymous. */
function uncheckedSubject(req: IncomingMessage): Subject {
  const cert = clientCertificateOf(req);
  return cert?.name
    ? { kind: 'certificate', name: cert.name, serial: cert.serial, policies: [] }
    : { kind: 'anonymous', policies: [] };
}

/** Check a request the gate admitted: throws HttpError 401/403 when refused. */
export function authorizeRequest(req: IncomingMessage, ...access: AccessRequest[]): void {
  const a = admitted.get(req);
  if (!a) throw new Error('request did not pass the gate');
  for (const x of access) a.gate.decide(a.auth, x);
}
