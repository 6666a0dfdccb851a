// The secrets envelope and keyring on their own (no etcd): AES-256-GCM with the Secret's identity as AAD,
// refusals for tampering, a moved ciphertext and an unknown key id; the keyring file's checks; a sealed
// Secret read by a pod's env without the key is the pod's CreateContainerConfigError naming the key; the
// deploy's node target carries the keyring.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfigText } from '../agent/config/validate.ts';
import type { Pod, Secret } from '../agent/objects/types.ts';
import { ConfigRefError, resolveEnv } from '../agent/pods/resolve.ts';
import { EnvelopeError, open, seal, UnknownKeyError } from '../agent/secrets/envelope.ts';
import {
  ensureKeyringFile,
  newKeyring,
  parseKeyring,
  readKeyringFile,
  withNewActiveKey,
  withoutKey,
  writeKeyringFile,
} from '../agent/secrets/keyring.ts';
import { useSecretsKeyring } from '../agent/secrets/process-keyring.ts';
import {
  NoSecretsKeyError,
  openSecret,
  sealedEnvelope,
  sealedProblem,
  sealSecret,
} from '../agent/secrets/sealed-secret.ts';
import { nodeTarget } from '../head/cli/deploy/node-target.ts';

const VALUE = 'hunter2-very-secret';
const B64 = Buffer.from(VALUE).toString('base64');
const secret = (name = 'db', namespace = 'default'): Secret =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, uid: 'u1', generation: 1, creationTimestamp: '', resourceVersion: '0' },
    type: 'Opaque',
    data: { password: B64 },
  }) as Secret;

test('an envelope opens under its key and AAD only', () => {
  const k = newKeyring();
  const env = seal(k, 'a', Buffer.from(VALUE));
  assert.equal(env.kid, k.active);
  assert.equal(open(k, 'a', env, 'x').toString(), VALUE);
  assert.ok(!JSON.stringify(env).includes(VALUE) && !JSON.stringify(env).includes(B64));
  // Two seals of the same value differ (fresh IV).
  assert.notEqual(seal(k, 'a', Buffer.from(VALUE)).ct, env.ct);

  const flip = (b64: string) => {
    const b = Buffer.from(b64, 'base64');
    b[0]! ^= 1;
    return b.toString('base64');
  };
  for (const tampered of [
    { ...env, ct: flip(env.ct) },
    { ...env, tag: flip(env.tag) },
    { ...env, iv: flip(env.iv) },
  ])
    assert.throws(() => open(k, 'a', tampered, 'secret "default/db"'), EnvelopeError);
  assert.throws(() => open(k, 'b', env, 'secret "default/other"'), /does not decrypt under secrets key/);
  // Another key under the same id does not pass either.
  const impostor = { active: k.active, keys: new Map([[k.active, Buffer.alloc(32, 7)]]) };
  assert.throws(() => open(impostor, 'a', env, 'x'), EnvelopeError);
});

test('an unknown key id is a clear error naming the key and the Secret, never the value', () => {
  const k = newKeyring();
  const env = seal(k, 'a', Buffer.from(VALUE));
  const other = newKeyring();
  for (const ring of [other, undefined]) {
    const err = (() => {
      try {
        open(ring, 'a', env, 'secret "default/db"');
      } catch (e) {
        return e as Error;
      }
      assert.fail('opened');
    })();
    assert.ok(err instanceof UnknownKeyError);
    assert.equal(
      err.message,
      `secret "default/db" is encrypted with secrets key "${k.active}", which this process's keyring does not hold`,
    );
  }
});

test('a sealed Secret hides its data and key names; moved to another name it does not open', () => {
  const k = newKeyring();
  const sealed = sealSecret(secret() as Secret & { sealed?: unknown }, k);
  const text = JSON.stringify(sealed);
  assert.ok(!text.includes(VALUE) && !text.includes(B64) && !text.includes('password'), text);
  assert.equal(sealed.data, undefined);
  assert.equal(sealedEnvelope(sealed)?.kid, k.active);
  assert.deepEqual(openSecret(sealed, k).data, { password: B64 });
  // The same envelope on another Secret (or namespace): refused.
  for (const moved of [secret('other'), secret('db', 'prod')])
    assert.throws(
      () => openSecret({ ...moved, data: undefined, sealed: sealed.sealed } as Secret, k),
      EnvelopeError,
    );
  // A plain Secret (stored before encryption) reads as it is.
  assert.deepEqual(openSecret(secret(), k).data, { password: B64 });
  // No keyring: never written in the clear.
  assert.throws(() => sealSecret(secret(), undefined), NoSecretsKeyError);
  // A Secret that could not be opened here is passed on sealed, as it was.
  assert.equal(sealSecret(sealed, undefined), sealed);
  assert.match(sealedProblem(sealed, newKeyring())!, /which this process's keyring does not hold/);
  // After a rotation the old key still opens it, and a re-seal is under the new key.
  const rotated = withNewActiveKey(k);
  assert.deepEqual(openSecret(sealed, rotated).data, { password: B64 });
  assert.equal(sealedEnvelope(sealSecret(openSecret(sealed, rotated), rotated))?.kid, rotated.active);
  assert.throws(() => withoutKey(rotated, rotated.active), /is the active key/);
  assert.throws(() => openSecret(sealed, withoutKey(rotated, k.active)), UnknownKeyError);
});

test('a pod whose Secret this node cannot open waits, naming the key id', () => {
  const k = newKeyring();
  const sealed = sealSecret(secret(), k);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u', generation: 1, creationTimestamp: '' },
    spec: { containers: [] },
  } as unknown as Pod;
  const c = {
    name: 'c',
    image: 'x',
    env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
  };
  const lookup = { configMap: () => undefined, secret: () => sealed };
  try {
    useSecretsKeyring(undefined);
    assert.throws(
      () => resolveEnv(pod, c, lookup, '127.0.0.1'),
      (err: Error) =>
        err instanceof ConfigRefError &&
        err.message.includes(`secret "db" cannot be read on this node`) &&
        err.message.includes(`"${k.active}"`) &&
        !err.message.includes(VALUE),
    );
    // The key arrives (a keyring reload): the same cached Secret opens.
    useSecretsKeyring(k);
    assert.deepEqual(resolveEnv(pod, c, lookup, '127.0.0.1'), [`PW=${VALUE}`]);
  } finally {
    useSecretsKeyring(undefined);
  }
});

test('keyring files: made once with mode 0600, refused when readable by others or malformed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-keyring-'));
  const file = join(dir, 'keys', 'c.json');
  const made = await ensureKeyringFile(file);
  assert.equal(made.created, true);
  const again = await ensureKeyringFile(file);
  assert.equal(again.created, false);
  assert.equal(again.keyring.active, made.keyring.active);
  assert.deepEqual(await readKeyringFile(file), made.keyring);
  const rotated = withNewActiveKey(made.keyring);
  await writeKeyringFile(file, rotated);
  assert.deepEqual([...(await readKeyringFile(file)).keys.keys()], [...rotated.keys.keys()]);

  await chmod(file, 0o644);
  await assert.rejects(readKeyringFile(file), /readable by others \(mode 644\): chmod 600/);
  await chmod(file, 0o600);
  const text = await readFile(file, 'utf8');
  const bad = (t: string) => () => parseKeyring(t, '/k.json');
  assert.throws(bad('{'), /secrets key file \/k.json: not JSON/);
  assert.throws(bad('{"active":"a","keys":{}}'), /not a nokube keyring/);
  const parsed = JSON.parse(text) as { active: string; keys: Record<string, string> };
  assert.throws(bad(JSON.stringify({ ...parsed, active: 'nope' })), /"active" must name one of its keys/);
  const short = { ...parsed, keys: { ...parsed.keys, [parsed.active]: 'AAAA' } };
  assert.throws(bad(JSON.stringify(short)), (err: Error) => /is not 32 bytes/.test(err.message));
  // No error ever quotes key material.
  try {
    parseKeyring(JSON.stringify(short), '/k.json');
  } catch (err) {
    for (const key of Object.values(parsed.keys)) assert.ok(!(err as Error).message.includes(key));
  }
  await assert.rejects(readKeyringFile(join(dir, 'absent.json')), /absent.json: ENOENT/);
});

test('new-or-update uploads the keyring with the node file: checksum in it, --secrets-key to the agent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-keyring-deploy-'));
  const keyFile = join(dir, 'c.json');
  await ensureKeyringFile(keyFile);
  const config = validateConfigText(
    `cluster: c\netcd: {endpoints: [http://10.0.0.1:2379]}\nhead: {port: 7480}\nmesh: {port: 7946}\nnodes:\n  - {name: h0, address: 10.0.0.2, roles: [head, worker], workspace: /var/lib/nokube, ssh: {user: root, port: 22, hostKey: "ssh-ed25519 AAAA", installDir: /opt/nokube}}\n`,
    'cluster.yaml',
  ).config;
  const t = nodeTarget(config, config.nodes[0]!, keyFile);
  const sha = createHash('sha256')
    .update(await readFile(keyFile))
    .digest('hex');
  assert.deepEqual(t.tlsFiles, [{ local: keyFile, remote: '/opt/nokube/secrets-key.json', sha256: sha }]);
  assert.deepEqual(JSON.parse(t.configText).secrets, {
    keyFile: '/opt/nokube/secrets-key.json',
    keySha256: sha,
  });
  assert.deepEqual(t.service.command.slice(-2), ['--secrets-key', '/opt/nokube/secrets-key.json']);
  // A new key is a new node file: uploaded, the agent restarted.
  await writeKeyringFile(keyFile, withNewActiveKey(await readKeyringFile(keyFile)));
  assert.notEqual(nodeTarget(config, config.nodes[0]!, keyFile).configSha256, t.configSha256);
  // The key material itself is never in the node file.
  for (const key of (await readKeyringFile(keyFile)).keys.values())
    assert.ok(!t.configText.includes(key.toString('base64')));
  // Without a keyring (in-process deploys of the tests), nothing about it.
  assert.ok(!nodeTarget(config, config.nodes[0]!).service.command.includes('--secrets-key'));
});
