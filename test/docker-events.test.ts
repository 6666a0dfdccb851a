// The engine's event stream, opened again after it ends or fails: at once-in-2 s while streams come and
// go, backing off to once in 16 s while the engine does not answer at all. A unit test of the timing
// (a stand-in for dockerode's getEvents and Node's mock timers); the stream against a real engine is
// used by every pods test.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mock, test } from 'node:test';
import type Docker from 'dockerode';
import { RESTART_MAX_MS, RESTART_MS, watchDockerEvents } from '../agent/runtime/docker-events.ts';

/** Lets what the timers started run (promises, and the stream's error, emitted on the next tick). */
const settle = () => new Promise((r) => setImmediate(r));

test('an engine that does not answer is asked again after 2, 4, 8, 16, 16 s; a stream that opened starts the count again', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  let answer: 'refuse' | 'stream' = 'refuse';
  let opened: PassThrough | undefined;
  let calls = 0;
  const docker = {
    getEvents: async () => {
      calls++;
      if (answer === 'refuse') throw new Error('connect ECONNREFUSED /var/run/docker.sock');
      opened = new PassThrough();
      return opened;
    },
  } as unknown as Docker;
  const seen: unknown[] = [];
  const w = watchDockerEvents(docker, {}, (ev) => seen.push(ev));
  t.after(() => w.stop());
  await settle();
  assert.equal(calls, 1);
  // Each wait: one ms short of it asks nothing, the last ms asks again.
  for (const wait of [RESTART_MS, 2 * RESTART_MS, 4 * RESTART_MS, RESTART_MAX_MS, RESTART_MAX_MS]) {
    const before: number = calls;
    mock.timers.tick(wait - 1);
    await settle();
    assert.equal(calls, before, `asked again before ${wait} ms`);
    mock.timers.tick(1);
    await settle();
    assert.equal(calls, before + 1, `not asked again after ${wait} ms`);
  }
  // The engine answers: events flow; the stream fails and is opened again after 2 s.
  answer = 'stream';
  mock.timers.tick(RESTART_MAX_MS);
  await settle();
  assert.ok(opened);
  opened.write('{"Action":"die","id":"c1"}\n');
  await settle();
  assert.deepEqual(seen, [{ Action: 'die', id: 'c1' }]);
  answer = 'refuse';
  const before: number = calls;
  opened.destroy(new Error('engine restarted'));
  await settle();
  mock.timers.tick(RESTART_MS);
  await settle();
  assert.equal(calls, before + 1);
  // Refused again: the back-off starts from 2 s, not from where it stopped.
  mock.timers.tick(RESTART_MS);
  await settle();
  assert.equal(calls, before + 2);
});
