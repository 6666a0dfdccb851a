// The JSON that `nokube agent op <base64-json>` takes: one remote operation of a deploy. The deploying
// process (head/deploy) builds it; the host validates it before doing anything. Every field is given by
// the caller: nothing is defaulted on the host.
import { z } from 'zod';

const absolutePath = z.string().startsWith('/', 'must be an absolute path');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256');

/** The agent as a long-running service. "process": a detached process with a pid file, supervised by
 * the ops (start/stop/restart/state); systemd units and the Docker container mode come later. */
export const serviceSpec = z.strictObject({
  mode: z.literal('process'),
  name: z.string().regex(/^[a-z0-9][-a-z0-9]*$/, 'must be a-z, 0-9, "-"'),
  /** argv of the service; argv[0] an absolute path. */
  command: z.array(z.string().min(1)).min(1),
  pidFile: absolutePath,
  logFile: absolutePath,
  /** How long stop waits for the process to exit after SIGTERM before it fails. */
  stopTimeoutMs: z.number().int().positive(),
});
export type ServiceSpec = z.output<typeof serviceSpec>;

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
]);
export type Op = z.output<typeof opSchema>;
