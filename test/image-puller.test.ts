// The agent's pre-pull puller (agent/images/puller.ts) with an engine played by the test: which requests
// it answers, with what, and when it pulls again. No Docker, no timers waited for: each step awaits the
// puller's next report.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ImagePullRequest, NodeStatus } from '../agent/images/pull-requests.ts';
import { answerOf } from '../agent/images/pull-requests.ts';
import { ImagePuller } from '../agent/images/puller.ts';
import { createLogger } from '../agent/log/logger.ts';

function setup(held: string[], backoffMs = 60_000) {
  const present = new Set(held);
  const pulls: string[] = [];
  /** The pull secrets each pull was given, by image. */
  const secretsOf = new Map<string, string[]>();
  const failing = new Map<string, string>();
  const reports: NodeStatus[] = [];
  let waiting: (() => void) | undefined;
  const puller = new ImagePuller({
    engine: {
      present: async (image) => present.has(image),
      pull: async (image, _signal, _policy, secrets) => {
        pulls.push(image);
        secretsOf.set(
          image,
          secrets.map((s) => `${s.namespace}/${s.name}`),
        );
        const why = failing.get(image);
        if (why) throw new Error(why);
        present.add(image);
      },
      list: async () => [...present].map((names) => ({ names: [names], sizeBytes: names.length })),
    },
    report: (s) => {
      reports.push(structuredClone(s));
      waiting?.();
    },
    log: createLogger({ node: 't' }, 'silent'),
    backoff: { firstMs: backoffMs, maxMs: backoffMs * 2 },
  });
  /** Until the latest report answers `image` with a settled state. */
  const settled = async (image: string) => {
    for (;;) {
      const o = reports.at(-1)?.pulls.find((p) => p.image === image);
      if (o && o.state !== 'Pulling') return o;
      await new Promise<void>((r) => {
        waiting = r;
      });
    }
  };
  return { puller, pulls, failing, reports, settled, secretsOf };
}

const request = (images: ImagePullRequest['images']): ImagePullRequest => ({
  images,
  owner: 'DaemonSet default/x',
  uid: 'u',
  revision: 'h',
});

describe('image puller', () => {
  test("an image two requests ask for is pulled with both requests' pull secrets, each once", async () => {
    const t = setup([]);
    await t.puller.start();
    const a = {
      ...request([{ image: 'reg.example.com/a:1', policy: 'IfNotPresent' }]),
      pullSecrets: [
        { namespace: 'team', name: 'one' },
        { namespace: 'team', name: 'two' },
      ],
    };
    const b = {
      ...request([{ image: 'reg.example.com/a:1', policy: 'IfNotPresent' }]),
      uid: 'v',
      pullSecrets: [
        { namespace: 'team', name: 'two' },
        { namespace: 'other', name: 'three' },
      ],
    };
    t.puller.requests([
      { request: a, modRevision: '10' },
      { request: b, modRevision: '11' },
    ]);
    assert.equal((await t.settled('reg.example.com/a:1')).state, 'Pulled');
    assert.deepEqual(t.secretsOf.get('reg.example.com/a:1'), ['team/one', 'team/two', 'other/three']);
    t.puller.stop();
  });

  test('IfNotPresent: a present image is answered without a pull, an absent one pulled; Always pulls; the images held are reported', async () => {
    const t = setup(['a:1']);
    await t.puller.start();
    const req = request([
      { image: 'a:1', policy: 'IfNotPresent' },
      { image: 'b:1', policy: 'IfNotPresent' },
    ]);
    t.puller.requests([{ request: req, modRevision: '10' }]);
    assert.equal((await t.settled('a:1')).state, 'Pulled');
    assert.equal((await t.settled('b:1')).state, 'Pulled');
    assert.deepEqual(t.pulls, ['b:1']);
    const last = t.reports.at(-1)!;
    assert.deepEqual(answerOf(last, req, '10'), { state: 'Pulled' });
    assert.deepEqual(
      answerOf(last, req, '11'),
      { state: 'Waiting' },
      'an answer to an older request does not count',
    );
    assert.deepEqual(last.images.map((i) => i.names[0]).sort(), ['a:1', 'b:1']);
    t.puller.requests([{ request: request([{ image: 'a:1', policy: 'Always' }]), modRevision: '12' }]);
    assert.equal((await t.settled('a:1')).revision, '12');
    assert.deepEqual(t.pulls, ['b:1', 'a:1'], 'Always: pulled although present');
    assert.equal(t.reports.at(-1)!.pulls.length, 1, 'only images asked for now are reported');
    t.puller.stop();
  });

  test('a failure is reported with its reason; Never with an absent image fails; a request written again waits for the back-off', async () => {
    const t = setup([]);
    await t.puller.start();
    t.failing.set('c:1', 'manifest unknown');
    const req = request([
      { image: 'c:1', policy: 'IfNotPresent' },
      { image: 'd:1', policy: 'Never' },
    ]);
    t.puller.requests([{ request: req, modRevision: '20' }]);
    const c = await t.settled('c:1');
    const d = await t.settled('d:1');
    assert.deepEqual([c.state, c.message], ['Failed', 'Failed to pull image "c:1": manifest unknown']);
    assert.deepEqual(
      [d.state, d.message],
      ['Failed', 'Container image "d:1" is not present with pull policy of Never'],
    );
    assert.equal(answerOf(t.reports.at(-1)!, req, '20').state, 'Failed');
    // Written again (the controller noting the failure it reported): no attempt while the back-off runs
    // (an attempt would say Pulling in this very report: it starts before its first await).
    t.puller.requests([{ request: req, modRevision: '21' }]);
    const now = t.reports.at(-1)!.pulls.find((p) => p.image === 'c:1')!;
    assert.deepEqual([now.state, now.revision], ['Failed', '20']);
    t.puller.stop();
  });

  test('after the back-off, the image is tried again and the answer is for the newest request', async () => {
    const t = setup([], 5);
    await t.puller.start();
    t.failing.set('c:1', 'connection refused');
    const req = request([{ image: 'c:1', policy: 'IfNotPresent' }]);
    t.puller.requests([{ request: req, modRevision: '30' }]);
    assert.equal((await t.settled('c:1')).state, 'Failed');
    t.failing.delete('c:1');
    t.puller.requests([{ request: req, modRevision: '31' }]);
    for (;;) {
      const o = await t.settled('c:1');
      if (o.state === 'Pulled') {
        assert.equal(o.revision, '31');
        break;
      }
      await new Promise<void>((r) => setImmediate(r));
    }
    assert.deepEqual(t.pulls, ['c:1', 'c:1']);
    t.puller.stop();
  });
});
