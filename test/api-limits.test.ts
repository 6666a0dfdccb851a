// The head API's limits (agent/objects/limits.ts), each at its edge against a real head and etcd: just
// under is accepted, just over is refused with a message that names the limit, and a refusal leaves
// every object and status key as it was.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  MAX_APPLY_BYTES,
  MAX_BODY_BYTES,
  MAX_BODY_DEPTH,
  MAX_CONTAINERS_PER_POD,
  MAX_DOCUMENTS_PER_APPLY,
  MAX_OBJECT_BYTES,
} from '../agent/objects/limits.ts';
import { StatusTooLargeError } from '../agent/objects/sizes.ts';
import {
  getObject,
  type ObjectRef,
  objectKey,
  statusKey,
  toStoredJson,
  writeStatus,
} from '../agent/objects/store.ts';
import type { KubeObject } from '../agent/objects/types.ts';
import { keys } from '../agent/store/keys.ts';
import { nestsDeeperThan } from '../head/api/json-depth.ts';
import { createTestCluster, eventually, getJson, runCli, type TestCluster } from './harness/cluster.ts';

const JSON_TYPE = { 'content-type': 'application/json' };

test('nesting is counted outside strings only', () => {
  assert.equal(nestsDeeperThan('[[1]]', 2), false);
  assert.equal(nestsDeeperThan('[[[1]]]', 2), true);
  assert.equal(nestsDeeperThan('[{"a":[]},{"b":[]}]', 3), false, 'siblings do not add up');
  assert.equal(nestsDeeperThan('["[[[[", "\\"[[[["]', 1), false, 'brackets in strings, escaped quotes');
  assert.equal(nestsDeeperThan('{"a\\\\":[[1]]}', 2), true, 'an escaped backslash ends no string');
});

describe('head API limits', { timeout: 240_000 }, () => {
  let c: TestCluster;
  const applyUrl = () => `${c.headUrl()}/api/v1/apply`;
  const post = async (body: string | Blob | Buffer, headers: Record<string, string> = JSON_TYPE) => {
    const res = await fetch(applyUrl(), { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as { error: string; problems?: string[] } };
  };
  const apply = (documents: unknown[], dryRun = false) => post(JSON.stringify({ documents, dryRun }));
  /** Every object key with its mod revision: what a refused apply must leave as it was. (Statuses and
   * ReplicaSets are the controllers': an apply never writes them, the leader may while a test runs.) */
  const stored = () =>
    c.withEtcd(async (etcd) => {
      const kvs = (await etcd.getAll().prefix(keys.objectsPrefix(c.name)).exec()).kvs;
      return Object.fromEntries(
        kvs
          .map((kv) => [kv.key.toString(), kv.mod_revision] as const)
          .filter(([key]) => !key.includes('/replicasets/')),
      );
    });
  /** Run a request that must be refused; assert that nothing stored changed. */
  const refused = async <T>(request: () => Promise<T>): Promise<T> => {
    const before = await stored();
    const result = await request();
    assert.deepEqual(await stored(), before, 'a refusal writes nothing');
    return result;
  };

  const configMap = (name: string, value = '') => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name },
    data: { k: value },
  });
  /** The size an object would have in etcd, from a dry run (the same length as the real write). */
  const storedSize = async (doc: unknown) => {
    const dry = await apply([doc], true);
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    const object = (dry.body as unknown as { items: Array<{ object: KubeObject }> }).items[0]!.object;
    return Buffer.byteLength(toStoredJson(object));
  };
  /** A ConfigMap whose stored JSON is exactly `bytes` long. */
  const configMapOf = async (name: string, bytes: number) =>
    configMap(name, 'x'.repeat(bytes - (await storedSize(configMap(name)))));
  const pod = (name: string, containers: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: Array.from({ length: containers }, (_, i) => ({
            name: `c${i}`,
            image: 'nokube-test/none:1',
          })),
        },
      },
    },
  });

  before(async () => {
    c = await createTestCluster({ nodes: 1, net: 87 });
    await c.startAgent('n1');
    await eventually(() => getJson(`${c.headUrl()}/readyz`), 30_000, 'head ready');
  });
  after(async () => {
    await c.stop();
  });

  test('a body must be application/json in UTF-8, unencoded (415 names what is accepted)', async () => {
    const body = JSON.stringify({ documents: [configMap('typed')] });
    for (const [headers, error] of [
      [{}, 'the request has no Content-Type; send application/json (UTF-8)'],
      [
        { 'content-type': 'text/plain' },
        'Content-Type "text/plain" is not accepted; send application/json (UTF-8)',
      ],
      [
        { 'content-type': 'application/json; charset=latin1' },
        'Content-Type "application/json; charset=latin1" is not accepted; send application/json (UTF-8)',
      ],
      [
        { 'content-type': 'application/yaml' },
        'Content-Type "application/yaml" is not accepted; send application/json (UTF-8)',
      ],
      [
        { ...JSON_TYPE, 'content-encoding': 'gzip' },
        'Content-Encoding "gzip" is not accepted; send the body unencoded',
      ],
    ] as const) {
      // fetch gives a string body text/plain unless told otherwise: a Blob without a type sends none.
      const r = await refused(() => post(Object.keys(headers).length ? body : new Blob([body]), headers));
      assert.equal(r.status, 415, JSON.stringify(headers));
      assert.equal(r.body.error, error);
    }
    const ok = await post(body, { 'content-type': 'Application/JSON; charset="UTF-8"' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('invalid UTF-8 is refused (400), before it is parsed', async () => {
    const text = (bad: number[]) =>
      Buffer.concat([
        Buffer.from(
          '{"documents":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"',
        ),
        Buffer.from(bad),
        Buffer.from('"}}]}'),
      ]);
    // A lone continuation byte, an overlong "/", a UTF-16 surrogate encoded in UTF-8, a cut sequence.
    for (const bad of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const r = await refused(() => post(text(bad)));
      assert.equal(r.status, 400, bad.join(' '));
      assert.equal(r.body.error, 'the request body is not valid UTF-8');
    }
    const ok = await post(text([0xe2, 0x82, 0xac]));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test(`nesting: ${MAX_BODY_DEPTH} levels reach validation, one more is refused (400, not 503)`, async () => {
    const nested = (depth: number) => {
      // {documents: [ {...configMap, extra: [[...]]} ]}: three levels before the extra field's arrays.
      const arrays = depth - 3;
      const doc = JSON.stringify(configMap('deep')).slice(0, -1);
      return `{"documents":[${doc},"extra":${'['.repeat(arrays)}${']'.repeat(arrays)}}]}`;
    };
    const atLimit = await refused(() => post(nested(MAX_BODY_DEPTH)));
    assert.equal(atLimit.status, 400);
    assert.match(atLimit.body.error, /document 1 \(ConfigMap deep\): extra: unknown field$/);
    const depthError = `the request body nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep (the limit)`;
    for (const depth of [MAX_BODY_DEPTH + 1, 1_000_000]) {
      const r = await refused(() => post(nested(depth)));
      assert.equal(r.status, 400, `depth ${depth}`);
      assert.equal(r.body.error, depthError);
    }
    // Brackets inside strings are text: a value that looks a million deep is stored as it is.
    const looksDeep = '['.repeat(100_000);
    const ok = await apply([configMap('brackets', looksDeep)]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(await getJson(`${c.headUrl()}/readyz`).then(() => 'ready'), 'ready');
  });

  test(`a body of ${MAX_BODY_BYTES} bytes is read, one byte more is refused (413), declared or streamed`, async () => {
    const body = JSON.stringify({ documents: [configMap('padded')], dryRun: true });
    const padded = (bytes: number) => `${body.slice(0, -1)}${' '.repeat(bytes - body.length)}}`;
    const ok = await post(padded(MAX_BODY_BYTES));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const over = await refused(() => post(padded(MAX_BODY_BYTES + 1)));
    assert.equal(over.status, 413);
    assert.equal(
      over.body.error,
      `the request body is ${MAX_BODY_BYTES + 1} bytes, over the limit of 8 MiB (${MAX_BODY_BYTES} bytes)`,
    );
    // Without Content-Length (chunked), the head stops reading at the limit.
    const text = padded(MAX_BODY_BYTES + 1);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < text.length; at += 1 << 20)
          controller.enqueue(Buffer.from(text.slice(at, at + (1 << 20))));
        controller.close();
      },
    });
    const res = await refused(() =>
      fetch(applyUrl(), { method: 'POST', headers: JSON_TYPE, body: stream, duplex: 'half' } as RequestInit),
    );
    assert.equal(res.status, 413);
    assert.equal(
      ((await res.json()) as { error: string }).error,
      `the request body is more than ${MAX_BODY_BYTES} bytes, over the limit of 8 MiB (${MAX_BODY_BYTES} bytes)`,
    );
  });

  test(`an object of ${MAX_OBJECT_BYTES} bytes is stored, one byte more is refused with its size`, async () => {
    const atLimit = await configMapOf('big', MAX_OBJECT_BYTES);
    const created = await apply([atLimit]);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const kv = await c.withEtcd((etcd) =>
      etcd.get(objectKey(c.name, { kind: 'ConfigMap', namespace: 'default', name: 'big' })).string(),
    );
    assert.equal(Buffer.byteLength(kv!), MAX_OBJECT_BYTES, 'etcd holds it whole');

    const over = await configMapOf('bigger', MAX_OBJECT_BYTES + 1);
    const r = await refused(() => apply([over]));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.problems, [
      `request: document 1: configmaps "bigger" in namespace default is ${MAX_OBJECT_BYTES + 1} bytes as stored, over the limit of 512 KiB (${MAX_OBJECT_BYTES} bytes) per object`,
    ]);
    // A change that grows a stored object over the limit is refused the same way.
    const grown = { ...atLimit, data: { k: `${atLimit.data.k}x` } };
    const r2 = await refused(() => apply([grown]));
    assert.match(r2.body.problems![0]!, /configmaps "big" in namespace default is 524289 bytes as stored/);
  });

  test(`one apply writes at most ${MAX_APPLY_BYTES} bytes (one etcd transaction)`, async () => {
    const a = await configMapOf('half-a', MAX_OBJECT_BYTES);
    const b = await configMapOf('half-b', MAX_APPLY_BYTES - MAX_OBJECT_BYTES);
    const ok = await apply([a, b]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const small = configMap('small');
    const c1 = await configMapOf('over-a', MAX_OBJECT_BYTES);
    const c2 = await configMapOf(
      'over-b',
      MAX_APPLY_BYTES - MAX_OBJECT_BYTES - (await storedSize(small)) + 1,
    );
    // a and b are unchanged (nothing to write): only what is written counts.
    const r = await refused(() => apply([a, b, c1, c2, small]));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.problems, [
      `this apply writes 3 objects of ${MAX_APPLY_BYTES + 1} bytes in all, over the limit of 1 MiB (${MAX_APPLY_BYTES} bytes) per apply (one etcd transaction): apply fewer objects at a time`,
    ]);
  });

  test(`a pod has at most ${MAX_CONTAINERS_PER_POD} containers`, async () => {
    const ok = await apply([pod('many', MAX_CONTAINERS_PER_POD)]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const r = await refused(() => apply([pod('too-many', MAX_CONTAINERS_PER_POD + 1)]));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.problems, [
      `request: document 1 (Deployment too-many): spec.template.spec.containers: ${MAX_CONTAINERS_PER_POD + 1} containers, over the limit of ${MAX_CONTAINERS_PER_POD} per pod`,
    ]);
  });

  test(`an apply has at most ${MAX_DOCUMENTS_PER_APPLY} documents, at the head and in the CLI`, async () => {
    const docs = (n: number) => Array.from({ length: n }, (_, i) => configMap(`doc-${i}`));
    const ok = await apply(docs(MAX_DOCUMENTS_PER_APPLY), true);
    assert.equal(ok.status, 200, JSON.stringify(ok.body).slice(0, 500));
    const message = `this apply has ${MAX_DOCUMENTS_PER_APPLY + 1} documents, over the limit of ${MAX_DOCUMENTS_PER_APPLY} per apply: apply fewer at a time`;
    const r = await refused(() => apply(docs(MAX_DOCUMENTS_PER_APPLY + 1)));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.problems, [message]);
    const cli = await refused(() =>
      runCli(
        ['apply', '-f', '-'],
        c.env,
        JSON.stringify({ kind: 'List', apiVersion: 'v1', items: docs(501) }),
      ),
    );
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr, `error: ${message}\n`);
  });

  test(`a status over ${MAX_OBJECT_BYTES} bytes has its long texts cut; one that cannot be cut is not written`, async () => {
    assert.equal((await apply([configMap('observed')])).status, 200);
    const ref: ObjectRef = { kind: 'ConfigMap', namespace: 'default', name: 'observed' };
    const object = await c.withEtcd((etcd) => getObject(etcd, c.name, ref, false));
    const write = (status: unknown) =>
      c.withEtcd((etcd) => writeStatus(etcd, c.name, ref, object!.createRevision, status));
    const readStatus = () => c.withEtcd((etcd) => etcd.get(statusKey(c.name, ref)).string());

    const frame = JSON.stringify({ phase: 'x', message: '' }).length;
    const exact = { phase: 'x', message: 'm'.repeat(MAX_OBJECT_BYTES - frame) };
    assert.equal(await write(exact), true);
    assert.equal(await readStatus(), JSON.stringify(exact), 'a status at the limit is kept whole');

    const long = { phase: 'x', message: 'm'.repeat(MAX_OBJECT_BYTES - frame + 1) };
    assert.equal(await write(long), true);
    const cut = JSON.parse((await readStatus())!) as { phase: string; message: string };
    assert.equal(cut.phase, 'x');
    assert.equal(cut.message, `${'m'.repeat(4096)}… [cut: the status was over 512 KiB]`);

    const before = await readStatus();
    const uncuttable = { phase: 'x', items: Array.from({ length: MAX_OBJECT_BYTES }, () => 1) };
    await assert.rejects(
      write(uncuttable),
      (err: Error) =>
        err instanceof StatusTooLargeError &&
        err.message ===
          `the status of configmaps "observed" in namespace default is ${JSON.stringify(uncuttable).length} bytes, over the limit of 512 KiB (${MAX_OBJECT_BYTES} bytes) per status, even with its texts cut; it was not written`,
    );
    assert.equal(await readStatus(), before);
  });
});
