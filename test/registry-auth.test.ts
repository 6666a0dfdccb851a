// Registry credentials from imagePullSecrets (agent/images/registry-auth.ts): which entry of which Secret
// applies to an image, in which order; and the Secrets of the two registry types as apply checks them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { credentialsFor, registryOf } from '../agent/images/registry-auth.ts';
import type { Secret } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (
  name: string,
  auths: Record<string, object>,
  type = 'kubernetes.io/dockerconfigjson',
): Secret =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    type,
    data:
      type === 'kubernetes.io/dockercfg'
        ? { '.dockercfg': b64(JSON.stringify(auths)) }
        : { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
  }) as unknown as Secret;
const users = (image: string, secrets: Secret[]) => credentialsFor(image, secrets).map((a) => a.username);

describe('registry credentials', () => {
  test("an image's registry and repository, as Docker names them", () => {
    assert.deepEqual(registryOf('busybox'), { host: 'docker.io', path: 'library/busybox' });
    assert.deepEqual(registryOf('busybox:1.36'), { host: 'docker.io', path: 'library/busybox' });
    assert.deepEqual(registryOf('me/app:2'), { host: 'docker.io', path: 'me/app' });
    assert.deepEqual(registryOf('index.docker.io/me/app'), { host: 'docker.io', path: 'me/app' });
    assert.deepEqual(registryOf('localhost:5000/app:1'), { host: 'localhost:5000', path: 'app' });
    assert.deepEqual(registryOf('reg.example.com/team/app@sha256:ab'), {
      host: 'reg.example.com',
      path: 'team/app',
    });
  });

  test('a key names the host and port (scheme and /v1/ aside); Docker Hub under any of its names', () => {
    const hub = secret('hub', { 'https://index.docker.io/v1/': { username: 'hub', password: 'p' } });
    const reg = secret('reg', { 'https://reg.example.com': { username: 'reg', password: 'p' } });
    const port = secret('port', { 'reg.example.com:5000': { username: 'port', password: 'p' } });
    assert.deepEqual(users('busybox', [hub, reg, port]), ['hub']);
    assert.deepEqual(users('docker.io/me/app:1', [hub]), ['hub']);
    assert.deepEqual(users('reg.example.com/app:1', [hub, reg, port]), ['reg']);
    assert.deepEqual(users('reg.example.com:5000/app:1', [hub, reg, port]), ['port']);
    assert.deepEqual(users('other.example.com/app:1', [hub, reg, port]), []);
    assert.equal(credentialsFor('busybox', [hub])[0]?.serveraddress, 'https://index.docker.io/v1/');
    assert.equal(credentialsFor('reg.example.com/app', [reg])[0]?.serveraddress, 'reg.example.com');
  });

  test('a glob matches one part of a host; a path must prefix the repository; the most specific first', () => {
    const s = secret('s', {
      '*.example.com': { username: 'glob', password: 'p' },
      'reg.example.com': { username: 'host', password: 'p' },
      'reg.example.com/team': { username: 'team', password: 'p' },
      'reg.example.com/team/app': { username: 'app', password: 'p' },
    });
    assert.deepEqual(users('reg.example.com/team/app:1', [s]), ['app', 'team', 'host', 'glob']);
    assert.deepEqual(users('reg.example.com/teamx/app:1', [s]), ['host', 'glob']);
    assert.deepEqual(users('a.b.example.com/app', [s]), []);
  });

  test('`auth` (base64 user:password) stands for username and password; dockercfg as well; tokens kept', () => {
    const s = secret('s', { 'reg.example.com': { auth: b64('alice:pa:ss') } });
    assert.deepEqual(credentialsFor('reg.example.com/app', [s]), [
      { serveraddress: 'reg.example.com', username: 'alice', password: 'pa:ss' },
    ]);
    const cfg = secret(
      'c',
      { 'reg.example.com': { username: 'bob', password: 'x' } },
      'kubernetes.io/dockercfg',
    );
    assert.deepEqual(users('reg.example.com/app', [cfg]), ['bob']);
    const token = secret('t', { 'reg.example.com': { identitytoken: 'tok' } });
    assert.equal(credentialsFor('reg.example.com/app', [token])[0]?.identitytoken, 'tok');
    const opaque: Secret = { ...s, type: 'Opaque' };
    assert.deepEqual(credentialsFor('reg.example.com/app', [opaque]), []);
  });

  test('two Secrets for one registry: both, in the order the pod lists them', () => {
    const a = secret('a', { 'reg.example.com': { username: 'a', password: 'p' } });
    const b = secret('b', { 'reg.example.com': { username: 'b', password: 'p' } });
    assert.deepEqual(users('reg.example.com/app', [b, a]), ['b', 'a']);
  });

  test('apply refuses a registry Secret without its key or with a key that is not its JSON', () => {
    const doc = (type: string, data: string) =>
      `apiVersion: v1\nkind: Secret\nmetadata: {name: r}\ntype: ${type}\n${data}\n`;
    assert.throws(
      () => validateManifestText(doc('kubernetes.io/dockerconfigjson', 'data: {}'), 'm.yaml'),
      /needs the key "\.dockerconfigjson"/,
    );
    assert.throws(
      () =>
        validateManifestText(
          doc('kubernetes.io/dockerconfigjson', `stringData: {.dockerconfigjson: '{"a": 1}'}`),
          'm.yaml',
        ),
      /stringData\.\.dockerconfigjson.*"auths" object|"auths" object/,
    );
    assert.throws(
      () =>
        validateManifestText(doc('kubernetes.io/dockercfg', `data: {.dockercfg: ${b64('nope')}}`), 'm.yaml'),
      /must be valid JSON/,
    );
    const ok = validateManifestText(
      doc('kubernetes.io/dockerconfigjson', `stringData: {.dockerconfigjson: '{"auths": {}}'}`),
      'm.yaml',
    );
    assert.equal(ok.length, 1);
    // A pod's imagePullSecrets are taken (they were refused as not supported before).
    const pod = validateManifestText(
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  imagePullSecrets: [{name: r}]\n  containers: [{name: c, image: busybox}]\n',
      'p.yaml',
    );
    assert.deepEqual((pod[0]!.object as { spec: { imagePullSecrets: unknown } }).spec.imagePullSecrets, [
      { name: 'r' },
    ]);
  });
});
