// What a pod's containers need from outside their spec: env values (ConfigMaps, Secrets, the pod's own
// fields) and volume files prepared on the node. A missing reference is the pod's problem
// (CreateContainerConfigError), never the agent's; so is a Secret this node holds no key for (the
// message names the key id, never a value). Secret volumes live on tmpfs (secret-volumes.ts), outside the
// workspace.
import { chmod, chown, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigMap, Container, Pod, Secret, Service } from '../objects/types.ts';
import { secretsKeyring } from '../secrets/process-keyring.ts';
import { openSecret, sealedEnvelope } from '../secrets/sealed-secret.ts';
import { type FileEntry, writeAtomically } from './atomic-files.ts';
import { tmpfsProblem } from './secret-volumes.ts';
import { serviceEnv } from './service-env.ts';

export interface Lookup {
  configMap(namespace: string, name: string): ConfigMap | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  /** The namespace's Services as known now (their environment variables); absent: none. */
  services?(namespace: string): Service[];
}

export class ConfigRefError extends Error {}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

/** The Secret with its data readable, or undefined when absent. One still sealed (its key arrived after
 * it was read, or never did) is opened with the keyring as it is now. */
function secretOf(lookup: Lookup, ns: string, name: string): Secret | undefined {
  const s = lookup.secret(ns, name);
  if (!s || !sealedEnvelope(s)) return s;
  try {
    return openSecret(s, secretsKeyring());
  } catch (err) {
    throw new ConfigRefError(`secret "${name}" cannot be read on this node: ${(err as Error).message}`);
  }
}

/** Env of one container as Docker wants it (`NAME=value`), k8s order: the namespace's Services'
 * variables (service-env.ts), then envFrom, then env, each overriding the one before. */
export function resolveEnv(pod: Pod, c: Container, lookup: Lookup, podIP: string): string[] {
  const ns = pod.metadata.namespace ?? 'default';
  const env = new Map<string, string>(serviceEnv(pod, lookup.services?.(ns) ?? []));
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = lookup.configMap(ns, from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ConfigRefError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(prefix + k, v);
    }
    if (from.secretRef) {
      const s = secretOf(lookup, ns, from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ConfigRefError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(s.data ?? {})) env.set(prefix + k, decode(v));
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) {
      env.set(e.name, expand(e.value ?? '', env));
      continue;
    }
    const { configMapKeyRef, secretKeyRef, fieldRef } = e.valueFrom;
    if (configMapKeyRef) {
      const v = lookup.configMap(ns, configMapKeyRef.name)?.data?.[configMapKeyRef.key];
      if (v === undefined) {
        if (configMapKeyRef.optional) continue;
        throw new ConfigRefError(
          lookup.configMap(ns, configMapKeyRef.name)
            ? `couldn't find key ${configMapKeyRef.key} in ConfigMap ${ns}/${configMapKeyRef.name}`
            : `configmap "${configMapKeyRef.name}" not found`,
        );
      }
      env.set(e.name, v);
    } else if (secretKeyRef) {
      const secret = secretOf(lookup, ns, secretKeyRef.name);
      const v = secret?.data?.[secretKeyRef.key];
      if (v === undefined) {
        if (secretKeyRef.optional) continue;
        throw new ConfigRefError(
          secret
            ? `couldn't find key ${secretKeyRef.key} in Secret ${ns}/${secretKeyRef.name}`
            : `secret "${secretKeyRef.name}" not found`,
        );
      }
      env.set(e.name, decode(v));
    } else if (fieldRef) {
      env.set(e.name, fieldValue(pod, fieldRef.fieldPath, podIP));
    }
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function fieldValue(pod: Pod, path: string, podIP: string): string {
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'status.podIP':
    case 'status.hostIP':
      return podIP;
    default:
      throw new ConfigRefError(`fieldRef ${path} is not supported`);
  }
}

/** k8s $(VAR) expansion against the variables defined before; $$ escapes. */
function expand(value: string, env: Map<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && env.has(name) ? env.get(name)! : m,
  );
}

/**
 * Write the pod's configMap / emptyDir volumes under `dir` and its secret volumes under `secretDir` (on
 * tmpfs: Secret values never touch the node's disk), one folder per volume, and return their host paths.
 * ConfigMap and Secret files are swapped in place when their data changes (the kubelet's atomic layout,
 * atomic-files.ts), without restarting the container.
 */
export async function prepareVolumes(
  pod: Pod,
  dirs: { dir: string; secretDir: string },
  lookup: Lookup,
  now: Date,
): Promise<Map<string, string>> {
  const { dir, secretDir } = dirs;
  const ns = pod.metadata.namespace ?? 'default';
  const hostPaths = new Map<string, string>();
  for (const v of pod.spec.volumes ?? []) {
    const at = join(dir, v.name);
    if (v.hostPath) {
      if (v.hostPath.type === 'DirectoryOrCreate') await mkdir(v.hostPath.path, { recursive: true });
      hostPaths.set(v.name, v.hostPath.path);
      continue;
    }
    if (v.secret) {
      const secretAt = join(secretDir, v.name);
      const noTmpfs = await tmpfsProblem();
      if (noTmpfs) throw new ConfigRefError(noTmpfs);
      // Parents private to the agent; the volume itself as a mount point the container's user can enter.
      await mkdir(secretDir, { recursive: true, mode: 0o700 });
      await mkdir(secretAt, { recursive: true, mode: 0o755 });
      hostPaths.set(v.name, secretAt);
      const s = secretOf(lookup, ns, v.secret.secretName);
      if (!s) {
        if (v.secret.optional) continue;
        throw new ConfigRefError(`secret "${v.secret.secretName}" not found`);
      }
      const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, b64]) => [k, decode(b64)]));
      const files = entries(data, v.secret.items, v.secret.defaultMode ?? 0o644, `Secret ${s.metadata.name}`);
      await writeAtomically(secretAt, files, now);
      continue;
    }
    await mkdir(at, { recursive: true });
    hostPaths.set(v.name, at);
    if (v.emptyDir) await emptyDirMode(at, pod.spec.securityContext?.fsGroup);
    if (v.configMap) {
      const cm = lookup.configMap(ns, v.configMap.name);
      if (!cm) {
        if (v.configMap.optional) continue;
        throw new ConfigRefError(`configmap "${v.configMap.name}" not found`);
      }
      const data = { ...(cm.data ?? {}) };
      for (const [k, b64] of Object.entries(cm.binaryData ?? {})) data[k] = decode(b64);
      const files = entries(
        data,
        v.configMap.items,
        v.configMap.defaultMode ?? 0o644,
        `ConfigMap ${cm.metadata.name}`,
      );
      await writeAtomically(at, files, now);
    }
  }
  return hostPaths;
}

/** The kubelet's emptyDir: writable by every user (0777), so a container with another runAsUser can use
 * it; with the pod's fsGroup, owned by that group with setgid (files made in it get the group). */
async function emptyDirMode(dir: string, fsGroup: number | undefined): Promise<void> {
  const st = await stat(dir);
  const mode = fsGroup === undefined ? 0o777 : 0o2777;
  if (fsGroup !== undefined && st.gid !== fsGroup) await chown(dir, st.uid, fsGroup);
  if ((st.mode & 0o7777) !== mode) await chmod(dir, mode);
}

function entries(
  data: Record<string, string>,
  items: Array<{ key: string; path: string; mode?: number }> | undefined,
  mode: number,
  what: string,
): FileEntry[] {
  const wanted: Array<{ key: string; path: string; mode?: number }> =
    items ?? Object.keys(data).map((key) => ({ key, path: key }));
  return wanted.map((item) => {
    const content = data[item.key];
    if (content === undefined) throw new ConfigRefError(`couldn't find key ${item.key} in ${what}`);
    return { path: item.path, content, mode: item.mode ?? mode };
  });
}

/** Docker binds of one container from its volumeMounts. */
export function bindsFor(c: Container, hostPaths: Map<string, string>): string[] {
  return (c.volumeMounts ?? []).map((m) => {
    const host = hostPaths.get(m.name);
    if (!host) throw new ConfigRefError(`volume "${m.name}" is not prepared`);
    const src = m.subPath ? join(host, m.subPath) : host;
    return `${src}:${m.mountPath}${m.readOnly ? ':ro' : ''}`;
  });
}

export async function removeVolumes(dir: string, secretDir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await rm(secretDir, { recursive: true, force: true });
}
