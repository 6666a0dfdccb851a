// The secrets keyring over SSH (a netns host, the built binary, a real etcd and the machine's Docker
// engine): new-or-update uploads the keyring with the node file and starts the agent with --secrets-key,
// so the agent reads the Secrets that heads sealed; a rotation in the README's order (new active key,
// new-or-update, re-encrypt) keeps the running pod reading and a new pod reads under the new key.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { applyManifests } from '../agent/objects/apply.ts';
import { getObject, objectKey } from '../agent/objects/store.ts';
import type { Pod } from '../agent/objects/types.ts';
import { validateManifestText } from '../agent/objects/validate.ts';
import {
  ensureKeyringFile,
  type Keyring,
  readKeyringFile,
  withNewActiveKey,
  writeKeyringFile,
} from '../agent/secrets/keyring.ts';
import { useSecretsKeyring } from '../agent/secrets/process-keyring.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { deployOverSsh } from '../head/cli/deploy/deploy.ts';
import type { LocalBinary } from '../head/cli/deploy/node-deploy.ts';
import { reencryptSecrets } from '../head/cli/secrets/reencrypt.ts';
import { eventually } from './harness/cluster.ts';
import { copiedBinary, deployConfigText, stopDeployedAgents, testDeployOptions } from './harness/deployed.ts';
import {
  type Docker,
  ensureBusyboxImage,
  execIn,
  removeClusterContainers,
  requireDocker,
} from './harness/docker.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const CLUSTER = 'secrets-deploy-test';
const VALUE = `deployed-${randomUUID()}`;

describe('the secrets keyring deployed over SSH (1 netns host)', { timeout: 300_000 }, () => {
  let th: TestHosts;
  let etcdServer: TestEtcd;
  let etcd: Etcd3;
  let binary: LocalBinary;
  let docker: Docker;
  let image: string;
  let keyFile: string;
  let text: string;
  const out: string[] = [];

  const run = () =>
    deployOverSsh({
      ...testDeployOptions({ text, binary, etcd: async () => etcd, out }),
      secretsKeyFile: keyFile,
    });
  const remoteKeyFile = () => join(th.hosts[0]!.installDir, 'secrets-key.json');
  /** This process writes Secrets as a head does: sealed under the keyring's active key. */
  const apply = (yaml: string, keyring: Keyring) => {
    useSecretsKeyring(keyring);
    return applyManifests(etcd, CLUSTER, validateManifestText(yaml, 'test.yaml'), 'secrets-deploy-test');
  };
  const reader = (name: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  nodeName: h0
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
      env:
        - {name: V, valueFrom: {secretKeyRef: {name: creds, key: v}}}
      volumeMounts:
        - {name: sec, mountPath: /sec}
  volumes:
    - {name: sec, secret: {secretName: creds}}
`;
  const reads = async (pod: string) => {
    await eventually(
      async () =>
        (await getObject(etcd, CLUSTER, { kind: 'Pod', namespace: 'default', name: pod }))?.object.status
          ?.phase === 'Running',
      60_000,
      `${pod} Running`,
    );
    const [ct] = await docker.listContainers({
      filters: { label: [`nokube.cluster=${CLUSTER}`, `nokube.pod=${pod}`] },
    });
    return execIn(docker, ct!.Id, ['sh', '-c', 'echo "$V"; cat /sec/v']);
  };
  const sealedKid = async () =>
    (
      JSON.parse(
        (await etcd
          .get(objectKey(CLUSTER, { kind: 'Secret', namespace: 'default', name: 'creds' }))
          .string())!,
      ) as { sealed: { kid: string } }
    ).sealed.kid;

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    th = await startTestHosts(1);
    etcdServer = await startTestEtcd(th.gateway);
    etcd = await createEtcd({ endpoints: [etcdServer.url], dialTimeoutMs: 2000 });
    binary = await copiedBinary();
    keyFile = join(await mkdtemp(join(tmpdir(), 'nokube-secrets-deploy-')), 'keys', `${CLUSTER}.json`);
    await ensureKeyringFile(keyFile);
    text = deployConfigText(th, {
      cluster: CLUSTER,
      etcd: { endpoints: [etcdServer.url] },
      headPort: 7480,
      meshPort: 7946,
      nodes: [{ host: th.hosts[0]!, roles: ['head', 'worker'] }],
    });
  });
  after(async () => {
    useSecretsKeyring(undefined);
    if (th) await stopDeployedAgents(text);
    await removeClusterContainers(CLUSTER);
    await rm(join('/dev/shm/nokube', CLUSTER), { recursive: true, force: true });
    etcd?.close();
    await etcdServer?.stop();
    await th?.stop();
    if (out.length) process.stdout.write(`# deploy output:\n${out.join('')}`);
  });

  test('the keyring goes with the node file (0600); the agent reads sealed Secrets with it', async () => {
    const { rows } = await run();
    assert.deepEqual(
      rows.map((r) => [r.node, r.change, r.state]),
      [['h0', 'install', 'running']],
    );
    assert.equal(await readFile(remoteKeyFile(), 'utf8'), await readFile(keyFile, 'utf8'));
    assert.equal((await stat(remoteKeyFile())).mode & 0o777, 0o600);
    const keyring = await readKeyringFile(keyFile);
    await apply(
      `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {v: ${VALUE}}\n---\n${reader('reader-1')}`,
      keyring,
    );
    assert.equal(await sealedKid(), keyring.active);
    assert.equal(await reads('reader-1'), `${VALUE}\n${VALUE}`);
  });

  test('rotation in the README order: new active key, new-or-update, re-encrypt; pods keep reading', async () => {
    const before = await readKeyringFile(keyFile);
    const rotated = withNewActiveKey(before);
    await writeKeyringFile(keyFile, rotated);
    const { plans } = await run();
    assert.deepEqual(
      plans.map((p) => [p.change, p.steps]),
      [['config change', ['upload-config', 'restart']]],
    );
    assert.equal(await readFile(remoteKeyFile(), 'utf8'), await readFile(keyFile, 'utf8'));
    const r = await reencryptSecrets(etcd, CLUSTER, rotated);
    assert.deepEqual(r, { rewritten: 1, current: 0, problems: [] });
    assert.equal(await sealedKid(), rotated.active);
    assert.equal(await reads('reader-1'), `${VALUE}\n${VALUE}`);
    await apply(reader('reader-2'), rotated);
    assert.equal(await reads('reader-2'), `${VALUE}\n${VALUE}`);
    const pod = await getObject(etcd, CLUSTER, { kind: 'Pod', namespace: 'default', name: 'reader-2' });
    assert.equal((pod!.object as Pod).spec.nodeName, 'h0');
  });
});
