// Registry credentials from a pod's imagePullSecrets (k8s' credential keyring, in small): Secrets of type
// `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`: {"auths": {...}}) or `kubernetes.io/dockercfg`
// (`.dockercfg`: the auths map itself). An entry applies to an image when its key names the image's
// registry (scheme and Docker Hub's `/v1/` ignored; `*` matches one part of a host name, as k8s; a path
// in the key must be a prefix of the image's repository). The matches are tried in order, most specific
// key first: a pull tries each until one works, as the kubelet does. Credentials go to the engine only;
// nothing here logs or returns them in a message.
import type { Secret } from '../objects/types.ts';

/** What the engine takes as X-Registry-Auth. */
export interface RegistryAuth {
  serveraddress: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export const DOCKER_CONFIG_JSON = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CFG = 'kubernetes.io/dockercfg';
/** The data key each of the two types keeps its JSON in. */
export const DOCKER_CONFIG_KEY: Record<string, string> = {
  [DOCKER_CONFIG_JSON]: '.dockerconfigjson',
  [DOCKER_CFG]: '.dockercfg',
};

const DOCKER_HUB = 'docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** An image reference's registry host (with port) and repository path, as Docker normalizes it:
 * `busybox` is docker.io/library/busybox; a first part with a dot or a colon, or `localhost`, is a host. */
export function registryOf(image: string): { host: string; path: string } {
  const ref = image.split('@')[0]!;
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  const host = isHost ? first.toLowerCase() : DOCKER_HUB;
  let path = isHost ? ref.slice(slash + 1) : ref;
  // The tag (a colon after the last slash) is not part of the repository.
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) path = path.slice(0, colon);
  if (host === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  return { host: HUB_ALIASES.has(host) ? DOCKER_HUB : host, path };
}

/** A key of `auths` as host (with port) and path; undefined when it is not a registry address. */
function parseKey(key: string): { host: string; path: string } | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(key) ? key : `https://${key}`;
  let url: URL;
  try {
    // A `*` is not valid in a URL's host: parsed as a letter, put back after.
    url = new URL(withScheme.replaceAll('*', 'wildcard-part'));
  } catch {
    return undefined;
  }
  const host = url.host.replaceAll('wildcard-part', '*').toLowerCase();
  let path = url.pathname.replace(/^\/+|\/+$/g, '');
  if (HUB_ALIASES.has(host) && (path === 'v1' || path === 'v2')) path = '';
  return { host: HUB_ALIASES.has(host) ? DOCKER_HUB : host, path };
}

/** k8s' host match: the same number of dot-separated parts, each equal or `*` (a glob of one part), and
 * the same port. */
function hostMatches(pattern: string, host: string): boolean {
  const [pHost, pPort = ''] = pattern.split(':');
  const [hHost, hPort = ''] = host.split(':');
  if (pPort !== hPort) return false;
  const p = pHost!.split('.');
  const h = hHost!.split('.');
  if (p.length !== h.length) return false;
  return p.every((part, i) => part === h[i] || (part.includes('*') && globMatches(part, h[i]!)));
}

const globMatches = (glob: string, text: string) =>
  new RegExp(`^${glob.split('*').map(escapeRegExp).join('[^.]*')}$`).test(text);
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface AuthEntry {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The `auths` map of a Secret of one of the two types; undefined for another type or data not JSON. */
export function authsOf(secret: Secret): Record<string, AuthEntry> | undefined {
  const key = DOCKER_CONFIG_KEY[secret.type ?? ''];
  const data = key ? secret.data?.[key] : undefined;
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as Record<string, unknown>;
    const auths = secret.type === DOCKER_CONFIG_JSON ? parsed.auths : parsed;
    return auths && typeof auths === 'object' ? (auths as Record<string, AuthEntry>) : undefined;
  } catch {
    return undefined;
  }
}

/** The credentials of `secrets` for `image`, most specific key first (a longer path, then a host without
 * a glob); a secret earlier in the list first among equals. Empty: pull without credentials. */
export function credentialsFor(image: string, secrets: readonly Secret[]): RegistryAuth[] {
  const { host, path } = registryOf(image);
  const found: Array<{ auth: RegistryAuth; rank: [number, number]; order: number }> = [];
  for (const secret of secrets)
    for (const [rawKey, entry] of Object.entries(authsOf(secret) ?? {})) {
      const key = parseKey(rawKey);
      if (!key || !entry || typeof entry !== 'object' || !hostMatches(key.host, host)) continue;
      if (key.path && path !== key.path && !path.startsWith(`${key.path}/`)) continue;
      const auth = toAuth(entry, host);
      if (auth)
        found.push({ auth, rank: [key.path.length, key.host.includes('*') ? 0 : 1], order: found.length });
    }
  return found
    .sort((a, b) => b.rank[0] - a.rank[0] || b.rank[1] - a.rank[1] || a.order - b.order)
    .map((f) => f.auth);
}

function toAuth(entry: AuthEntry, host: string): RegistryAuth | undefined {
  const serveraddress = host === DOCKER_HUB ? 'https://index.docker.io/v1/' : host;
  let { username, password } = entry;
  if ((!username || password === undefined) && typeof entry.auth === 'string') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  const out: RegistryAuth = { serveraddress };
  if (username) out.username = username;
  if (password !== undefined) out.password = password;
  if (entry.identitytoken) out.identitytoken = entry.identitytoken;
  if (entry.registrytoken) out.registrytoken = entry.registrytoken;
  return out.username || out.identitytoken || out.registrytoken ? out : undefined;
}

/** The problem with a Secret of one of the two types, as a field path and message; undefined when fine
 * (k8s refuses such a Secret without its key, or with one that is not JSON). */
export function dockerConfigProblem(
  type: string | undefined,
  data: Record<string, string> | undefined,
  stringData: Record<string, string> | undefined,
): [string[], string] | undefined {
  const key = DOCKER_CONFIG_KEY[type ?? ''];
  if (!key) return undefined;
  const text =
    stringData?.[key] ??
    (data?.[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString());
  if (text === undefined) return [['data'], `a Secret of type ${type} needs the key "${key}"`];
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const auths = type === DOCKER_CONFIG_JSON ? parsed?.auths : parsed;
    if (!auths || typeof auths !== 'object' || Array.isArray(auths))
      return [
        [stringData?.[key] !== undefined ? 'stringData' : 'data', key],
        type === DOCKER_CONFIG_JSON ? 'must be JSON with an "auths" object' : 'must be a JSON object',
      ];
  } catch {
    return [[stringData?.[key] !== undefined ? 'stringData' : 'data', key], 'must be valid JSON'];
  }
  return undefined;
}
