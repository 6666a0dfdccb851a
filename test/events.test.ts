// The event recorder against a real etcd: repeats are one event with a count; ten different messages of
// one object and reason within ten minutes and the rest are one combined event (k8s' EventCorrelator); a
// repeat of a queued event takes no room in the bounded queue; what it remembers for counting is bounded.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createLogger } from '../agent/log/logger.ts';
import { COMBINED_PREFIX, EventRecorder, type KubeEvent, listEvents } from '../agent/objects/events.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

let server: TestEtcd;
let etcd: Etcd3;
const log = createLogger({ test: 'events' }, 'silent');
const recorders: EventRecorder[] = [];

before(async () => {
  server = await startTestEtcd();
  etcd = await connectEtcd({ endpoints: [server.url], dialTimeoutMs: 3000 });
});
after(async () => {
  for (const r of recorders) r.stop();
  etcd?.close();
  await server?.stop();
});

function recorder(): EventRecorder {
  const r = new EventRecorder(etcd, 'events', { component: 'test' }, log);
  recorders.push(r);
  return r;
}

const view = (e: KubeEvent) => `${e.reason} x${e.count}: ${e.message}`;

test('a scale-up of 30 pods: nine SuccessfulCreate events of their own, then one combined event counting the rest', async () => {
  const r = recorder();
  const owner = { kind: 'ReplicaSet' as const, namespace: 'default', name: 'web-1' };
  for (let i = 0; i < 30; i++) r.normal(owner, 'SuccessfulCreate', `Created pod: web-1-${i}`);
  // Another reason of the same object is counted apart.
  r.normal(owner, 'SuccessfulDelete', 'Deleted pod: web-1-0');
  await r.flush();
  const events = (await listEvents(etcd, 'events', owner)).map(view).sort();
  assert.deepEqual(
    events,
    [
      ...Array.from({ length: 9 }, (_, i) => `SuccessfulCreate x1: Created pod: web-1-${i}`).sort(),
      `SuccessfulCreate x21: ${COMBINED_PREFIX}Created pod: web-1-29`,
      'SuccessfulDelete x1: Deleted pod: web-1-0',
    ].sort(),
  );
  assert.equal(r.dropped, 0);
});

test('the same event repeated is one event with its count; repeats of a queued event take no room in the queue', async () => {
  const r = recorder();
  const pod = { kind: 'Pod' as const, namespace: 'default', name: 'p' };
  // Far more than the queue holds (1,000), all before the first write ends.
  for (let i = 0; i < 5000; i++) r.warning(pod, 'BackOff', 'Back-off restarting failed container');
  await r.flush();
  assert.equal(r.dropped, 0);
  const [event, ...more] = await listEvents(etcd, 'events', pod);
  assert.equal(more.length, 0);
  assert.equal(view(event!), 'BackOff x5000: Back-off restarting failed container');
});

test('repeats are counted for the last 2,000 events remembered; an older one is a new event again', async () => {
  const r = recorder();
  const pod = (i: number) => ({ kind: 'Pod' as const, namespace: 'default', name: `many-${i}` });
  for (let i = 0; i < 2500; i++) {
    r.normal(pod(i), 'Scheduled', `Successfully assigned default/many-${i} to n1`);
    if (i % 500 === 499) await r.flush();
  }
  r.normal(pod(2499), 'Scheduled', 'Successfully assigned default/many-2499 to n1');
  r.normal(pod(0), 'Scheduled', 'Successfully assigned default/many-0 to n1');
  await r.flush();
  assert.equal(r.dropped, 0);
  assert.deepEqual((await listEvents(etcd, 'events', pod(2499))).map(view), [
    'Scheduled x2: Successfully assigned default/many-2499 to n1',
  ]);
  assert.deepEqual((await listEvents(etcd, 'events', pod(0))).map(view), [
    'Scheduled x1: Successfully assigned default/many-0 to n1',
    'Scheduled x1: Successfully assigned default/many-0 to n1',
  ]);
});

test('a burst past the queue: new events beyond 1,000 are dropped and counted, repeats of queued ones still count', async () => {
  const r = recorder();
  const pod = (i: number) => ({ kind: 'Pod' as const, namespace: 'default', name: `burst-${i}` });
  const scheduled = (i: number) =>
    r.normal(pod(i), 'Scheduled', `Successfully assigned default/burst-${i} to n1`);
  // All before the first write ends: the first event goes out at once, the queue holds the next 1,000.
  for (let i = 0; i < 1500; i++) scheduled(i);
  scheduled(7); // queued: counted in place
  scheduled(1200); // dropped: not remembered, a new event (and dropped again)
  assert.equal(r.dropped, 500);
  await r.flush();
  assert.deepEqual((await listEvents(etcd, 'events', pod(7))).map(view), [
    'Scheduled x2: Successfully assigned default/burst-7 to n1',
  ]);
  assert.deepEqual(await listEvents(etcd, 'events', pod(1200)), []);
  // Room again: the dropped event is recorded as new.
  scheduled(1200);
  await r.flush();
  assert.deepEqual((await listEvents(etcd, 'events', pod(1200))).map(view), [
    'Scheduled x1: Successfully assigned default/burst-1200 to n1',
  ]);
});
