// The informer (agent/store/informer) against a real etcd: list then watch, handlers told each change
// once and in order, a re-list racing changes (its read held until they landed) losing and repeating
// nothing, a watch compacted away and a restarted etcd both healed by a re-list, and a writer waiting
// for its own write to reach the cache. Handlers are told how they heard: watch, list or memory.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createLogger } from '../agent/log/logger.ts';
import { createEtcd } from '../agent/store/etcd.ts';
import { type Handlers, Informer } from '../agent/store/informer/informer.ts';
import { trackWrites } from '../agent/store/informer/writes.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { gatedEtcd } from './harness/gated-etcd.ts';

const log = createLogger({ node: 't' }, 'silent');
let server: TestEtcd;
let etcd: Etcd3;
before(async () => {
  server = await startTestEtcd();
  etcd = await createEtcd({ endpoints: [server.url], dialTimeoutMs: 5000 });
});
after(async () => {
  etcd?.close();
  await server?.stop();
});

let n = 0;
/** A fresh prefix, an informer on it (through `client`), and the log of what its handlers heard. */
function setup(client: Etcd3 = etcd) {
  const prefix = `/t/${++n}/`;
  const heard: string[] = [];
  /** How each add or update came: the watch, a (re)list, or the cache (informer.ts `Via`). */
  const via: string[] = [];
  const informer = new Informer<string>({ etcd: client, prefix, decode: (kv) => kv.value.toString(), log });
  const h: Handlers<string> = {
    add: (k, e, how) => heard.push(`add ${k}=${e.value}`) && via.push(`${k} ${how}`),
    update: (k, e, _old, how) => heard.push(`update ${k}=${e.value}`) && via.push(`${k} ${how}`),
    delete: (k) => heard.push(`delete ${k}`),
  };
  informer.on(h);
  const put = async (k: string, v: string) =>
    BigInt(
      (
        await etcd
          .put(prefix + k)
          .value(v)
          .exec()
      ).header.revision,
    );
  const del = async (k: string) =>
    BigInt(
      (
        await etcd
          .delete()
          .key(prefix + k)
          .exec()
      ).header.revision,
    );
  const cache = () =>
    Object.fromEntries(
      informer
        .entries()
        .map(([k, e]) => [k, e.value])
        .sort(),
    );
  return { prefix, informer, heard, via, put, del, cache };
}

describe('informer', () => {
  test('lists, then watches from the list: every change told once, in order; waitFor a revision', async () => {
    const { prefix, informer, heard, via, put, del, cache } = setup();
    await put('a', '1');
    await put('b', '1');
    await informer.start();
    assert.deepEqual(cache(), { a: '1', b: '1' });
    assert.deepEqual(via, ['a list', 'b list']);
    await put('c', '1');
    await put('a', '2');
    // One transaction, two keys, one revision: both told.
    await etcd
      .if(`${prefix}d`, 'Create', '==', 0)
      .then(etcd.put(`${prefix}d`).value('1'), etcd.put(`${prefix}e`).value('1'))
      .commit();
    const last = await del('b');
    await informer.waitFor(last, 5000);
    assert.equal(informer.revision, last);
    assert.deepEqual(cache(), { a: '2', c: '1', d: '1', e: '1' });
    assert.deepEqual(heard.slice(2), ['add c=1', 'update a=2', 'add d=1', 'add e=1', 'delete b']);
    // Changes as etcd's watch sent them are told so (a restarted node's record is news then, mesh.ts).
    assert.deepEqual(via.slice(2), ['c watch', 'a watch', 'd watch', 'e watch']);
    // A handler added later hears the cache; a resync too.
    const late: string[] = [];
    informer.on({ add: (k, _e, how) => late.push(`${k} ${how}`) });
    assert.deepEqual(late.sort(), ['a memory', 'c memory', 'd memory', 'e memory']);
    via.length = 0;
    informer.resync();
    assert.deepEqual(via.sort(), ['a memory', 'c memory', 'd memory', 'e memory']);
    await informer.stop();
  });

  test('a re-list that read before a delete and a put, applied after them: nothing lost, nothing twice', async () => {
    const gated = gatedEtcd(etcd);
    const { informer, heard, via, put, del, cache } = setup(gated.client);
    await put('a', '1');
    await put('b', '1');
    await informer.start();
    heard.length = 0;
    via.length = 0;
    gated.hold();
    const relist = informer.relist();
    await eventually(() => gated.held() > 0, 5000, 'the re-list to read');
    await del('b');
    const last = await put('c', '1');
    gated.release();
    await relist;
    await informer.waitFor(last, 5000);
    assert.deepEqual(cache(), { a: '1', c: '1' });
    assert.deepEqual(heard, ['delete b', 'add c=1'], 'each change told once; the unchanged a not at all');
    // c was put after the list read: the watch from the list's revision sends it (b's delete, too).
    assert.deepEqual(via, ['c watch']);
    await informer.stop();
  });

  test('a watch compacted away (its start revision is gone): it lists again and misses nothing', async () => {
    const gated = gatedEtcd(etcd);
    const { informer, heard, put, del, cache } = setup(gated.client);
    await put('a', '1');
    await put('b', '1');
    await informer.start();
    heard.length = 0;
    gated.hold();
    const relist = informer.relist();
    await eventually(() => gated.held() > 0, 5000, 'the re-list to read');
    // The list read is older than etcd's history now: the watch from it is cancelled by etcd.
    await del('a');
    await put('b', '2');
    const last = await put('c', '1');
    await etcd.kv.compact({ revision: String(last) });
    gated.release();
    await relist;
    await eventually(() => informer.revision >= last, 10_000, 'the informer to list again');
    assert.deepEqual(cache(), { b: '2', c: '1' });
    // What happened between the list and the compaction is known only as a difference: its order is lost.
    assert.deepEqual([...heard].sort(), ['add c=1', 'delete a', 'update b=2']);
    await informer.stop();
  });

  test('etcd restarted: the informer lists again and follows changes made after', async () => {
    const { informer, put, cache } = setup();
    await put('a', '1');
    await informer.start();
    await server.pause();
    await server.resume();
    const last = await put('b', '1');
    await informer.waitFor(last, 20_000);
    assert.deepEqual(cache(), { a: '1', b: '1' });
    await informer.stop();
  });

  test('a tracked writer waits until the cache holds its own writes (deletes of absent keys not counted)', async () => {
    const { prefix, informer, cache } = setup();
    await informer.start();
    const tracked = trackWrites(etcd);
    await tracked.etcd
      .if(`${prefix}x`, 'Create', '==', 0)
      .then(tracked.etcd.put(`${prefix}x`).value('1'), tracked.etcd.delete().key(`${prefix}absent`))
      .commit();
    const writes = tracked.take();
    assert.deepEqual(
      writes.map((w) => w.key),
      [`${prefix}x`],
    );
    await informer.waitFor(writes[0]!.revision, 5000);
    assert.deepEqual(cache(), { x: '1' });
    assert.deepEqual(tracked.take(), [], 'taken once');
    await informer.stop();
  });
});
