// A replica that serves HTTP on the host network, and the check that it does (test/update-docker,
// bench/update). Pods and Swarm tasks share the node's network, so a fixed port admits one replica per
// node address: SERVE_AT_POD_IP does that (an httpGet readinessProbe finds it at the pod IP, the node's
// address); with more replicas than addresses, SERVE picks a free loopback port of its own, written to
// /tmp/port, and HTTP_CHECK is an HTTP GET of it run in the container (an exec readinessProbe; Swarm's
// HEALTHCHECK, which is always an exec).

const IDLE = 'while true; do sleep 3600 & wait $!; done';

/** busybox sh: an httpd on $POD_IP:`port` (env POD_IP from the fieldRef status.podIP), then idle until
 * SIGTERM. */
export const serveAtPodIp = (port: number) =>
  `trap "exit 0" TERM; mkdir -p /www && echo ok > /www/healthz; httpd -p $POD_IP:${port} -h /www; ${IDLE}`;

/** busybox sh: an httpd on a free loopback port (written to /tmp/port), then idle until SIGTERM. */
export const SERVE =
  'trap "exit 0" TERM; mkdir -p /www && echo ok > /www/healthz; ' +
  'for i in $(seq 50); do p=$((20000 + RANDOM % 30000)); httpd -p 127.0.0.1:$p -h /www && echo $p > /tmp/port && break; done; ' +
  IDLE;

/** Succeeds once the replica's httpd answers 200 on /healthz. */
export const HTTP_CHECK = 'wget -q -O /dev/null http://127.0.0.1:$(cat /tmp/port)/healthz';
