// A probe in one line, as `kubectl describe pod` prints it:
// `http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3` (no host: the pod IP).
import { PROBE_DEFAULTS } from '../../../agent/objects/defaults.ts';
import type { Probe } from '../../../agent/objects/types.ts';

export function probeText(p: Probe): string {
  const action = p.exec
    ? `exec [${p.exec.command.join(' ')}]`
    : p.httpGet
      ? `http-get ${(p.httpGet.scheme ?? 'HTTP').toLowerCase()}://${p.httpGet.host ?? ''}:${p.httpGet.port}${p.httpGet.path || '/'}`
      : p.tcpSocket
        ? `tcp-socket ${p.tcpSocket.host ?? ''}:${p.tcpSocket.port}`
        : `grpc <pod>:${p.grpc!.port} ${p.grpc!.service ?? ''}`.trimEnd();
  const d = PROBE_DEFAULTS;
  return `${action} delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds || d.timeoutSeconds}s period=${p.periodSeconds || d.periodSeconds}s #success=${p.successThreshold || d.successThreshold} #failure=${p.failureThreshold || d.failureThreshold}`;
}
