// Certificate expiry, visible on every agent with TLS: a gauge of each certificate's NotAfter (so an
// alert is `nokube_tls_certificate_expiry_timestamp_seconds - time() < 30 * 86400`), and a Warning event
// on the node (plus a log line) under WARN_DAYS days left, at start and then once a day.
import { Gauge } from 'prom-client';
import type { AgentContext, AgentPart } from '../context.ts';
import { type Certificate, certificateIdentity, daysLeft, expiryState } from './inspect.ts';
import type { NodeTls } from './node-check.ts';
import { DAY_MS } from './validity.ts';

export const EXPIRY_METRIC = 'nokube_tls_certificate_expiry_timestamp_seconds';

export interface ExpiryWarning {
  reason: 'CertificateExpiring' | 'CertificateExpired';
  message: string;
}

/** The warnings due at `now` for the node's certificate and the CA. */
export function expiryWarnings(tls: Pick<NodeTls, 'ca' | 'cert'>, now: Date): ExpiryWarning[] {
  const out: ExpiryWarning[] = [];
  for (const [what, cert] of [
    ['node certificate', tls.cert],
    ['cluster CA certificate', tls.ca],
  ] as Array<[string, Certificate]>) {
    const state = expiryState(cert.notAfter, now);
    if (state === 'ok') continue;
    const name = `${what} "${certificateIdentity(cert).name}"`;
    const when = cert.notAfter.toISOString();
    out.push(
      state === 'expired'
        ? {
            reason: 'CertificateExpired',
            message: `${name} expired on ${when}: renew it (nokube tls rotate)`,
          }
        : {
            reason: 'CertificateExpiring',
            message: `${name} expires on ${when} (${daysLeft(cert.notAfter, now)} days left): renew it (nokube tls rotate, then new-or-update)`,
          },
    );
  }
  return out;
}

export function tlsExpiryPart(tls: NodeTls, now: () => Date = () => new Date()): AgentPart {
  return {
    name: 'tls-expiry',
    async start(ctx: AgentContext) {
      const gauge = new Gauge({
        name: EXPIRY_METRIC,
        help: 'NotAfter of the certificates this agent holds (Unix seconds): certificate="node" or "ca".',
        labelNames: ['certificate'],
        registers: [ctx.metrics],
      });
      gauge.set({ certificate: 'node' }, tls.cert.notAfter.getTime() / 1000);
      gauge.set({ certificate: 'ca' }, tls.ca.notAfter.getTime() / 1000);
      const check = () => {
        for (const w of expiryWarnings(tls, now())) {
          ctx.log.warn({ reason: w.reason }, w.message);
          ctx.recorder.warning({ kind: 'Node', name: ctx.nodeName }, w.reason, w.message);
        }
      };
      check();
      const daily = setInterval(check, DAY_MS);
      daily.unref();
      return {
        async stop() {
          clearInterval(daily);
          ctx.metrics.removeSingleMetric(EXPIRY_METRIC);
        },
      };
    },
  };
}
