// The JSON that `nokube agent op <base64-json>` takes: one remote operation of a deploy. The deploying
// process (head/deploy) builds it; the host validates it before doing anything. Every field is given by
// the caller: nothing is defaulted on the host.
import { z } from 'zod';

const absolutePath = z.string().startsWith('/', 'must be an absolute path');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256');

const serviceName = z.string().regex(/^[a-z0-9][-a-z0-9]*$/, 'must be a-z, 0-9, "-"');

/** What every service mode has. */
const serviceCommon = {
  name: serviceName,
  /** argv of the service; argv[0] the installed binary (an absolute path). */
  command: z.array(z.string().min(1)).min(1),
  /** How long stop waits for the service to exit after SIGTERM before it fails (docker: then SIGKILL). */
  stopTimeoutMs: z.number().int().positive(),
  /** Where the host records the spec of the service it last started: a start, restart or stop with a
   * spec of another mode (or another name, pid file, socket) stops that one first. Absent: no record
   * (a change of mode is not noticed on the host). */
  recordFile: absolutePath.optional(),
};

/** The agent as a long-running service, one of three modes (agent/op/service-*.ts):
 * - process: a detached process with a pid file, supervised by the ops themselves;
 * - docker: a container of an image built on the host from the installed binary (host network, host pid
 *   namespace, restart policy unless-stopped), through the engine at `socket`;
 * - systemd: a unit file in `unitDir`, driven with systemctl. */
export const serviceSpec = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('process'),
    ...serviceCommon,
    pidFile: absolutePath,
    logFile: absolutePath,
  }),
  z.strictObject({
    mode: z.literal('docker'),
    ...serviceCommon,
    /** The engine's unix socket on the host. */
    socket: absolutePath,
    /** Repository of the image; its tag is the first 12 hex digits of the binary's SHA-256. */
    image: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, 'must be a Docker repository name'),
    /** Host paths mounted at the same path in the container (read-write). */
    mounts: z.array(absolutePath),
    /** Labels of the container (what it runs: e.g. the config's checksum); a change recreates it. */
    labels: z.record(z.string().min(1), z.string()),
    /** The cluster has a pod network: the container gets the rights it needs (the agent makes bridges,
     * veths and nftables tables, sets sysctls, enters pods' namespaces: POD_NETWORK_RIGHTS in
     * agent/op/service-docker.ts) and the image carries the host's tools for it (agent/op/agent-image.ts). */
    podNetwork: z.boolean(),
  }),
  z.strictObject({
    mode: z.literal('systemd'),
    ...serviceCommon,
    /** Where the unit file `<name>.service` is written (e.g. /etc/systemd/system). */
    unitDir: absolutePath,
    description: z.string().min(1),
  }),
]);
export type ServiceSpec = z.output<typeof serviceSpec>;
export type ServiceMode = ServiceSpec['mode'];
export type ServiceSpecOf<M extends ServiceMode> = Extract<ServiceSpec, { mode: M }>;

export const opSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('facts'),
    /** The installed binary (checksum and version reported when present). */
    binary: absolutePath,
    /** Files whose checksums are reported (e.g. the node's config); absent ones are null. */
    files: z.array(absolutePath),
    /** Free disk is reported for the filesystem holding this path (or its nearest existing parent). */
    diskPath: absolutePath,
    service: serviceSpec,
  }),
  z.strictObject({
    op: z.literal('install'),
    /** Each file was uploaded next to its target; it is checked, made executable or not, and renamed. */
    files: z
      .array(
        z.strictObject({
          from: absolutePath,
          to: absolutePath,
          sha256,
          mode: z.number().int().min(0).max(0o777),
        }),
      )
      .min(1),
  }),
  z.strictObject({
    op: z.enum(['start', 'stop', 'restart', 'state']),
    service: serviceSpec,
  }),
  z.strictObject({
    /** A node leaving the cluster, its agent stopped: what its pod network left in the host's kernel
     * (bridge, tables, VXLAN device, routes inside podCidr) is removed (agent/podnet/teardown.ts). */
    op: z.literal('network-teardown'),
    cluster: z.string().min(1),
    node: z.string().min(1),
    podCidr: z.string().min(1),
  }),
]);
export type Op = z.output<typeof opSchema>;
