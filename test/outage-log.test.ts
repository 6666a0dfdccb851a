// The outage log against a clock the test drives: one line when etcd stops answering, then lines at 1 s,
// 2 s, 4 s ... (at most 5 min apart) while failures go on, and one line when it answers again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../agent/log/logger.ts';
import { OUTAGE_LOG_MAX_MS, OutageLog } from '../agent/log/outage-log.ts';

function recorder() {
  const lines: Array<{ level: string; at: number; msg: string; fields: Record<string, unknown> }> = [];
  let now = Date.parse('2026-01-01T00:00:00Z');
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, at: now, msg, fields });
  const log = { warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger;
  return { lines, log, advance: (ms: number) => (now += ms), now: () => now };
}

test('a failure every 100 ms for 15 minutes is a handful of lines, spaced 1 s, 2 s, 4 s ... up to 5 min', () => {
  const r = recorder();
  const start = r.now();
  const outage = new OutageLog(r.log, { what: 'etcd', now: r.now });
  for (let t = 0; t < 15 * 60_000; t += 100) {
    outage.failed('etcd unreachable at http://e:2379: no answer within 5000 ms');
    r.advance(100);
  }
  assert.deepEqual(r.lines[0], {
    level: 'warn',
    at: start,
    msg: 'etcd unreachable',
    fields: { reason: 'etcd unreachable at http://e:2379: no answer within 5000 ms' },
  });
  const gaps = r.lines.slice(1).map((l, i) => l.at - r.lines[i]!.at);
  assert.deepEqual(gaps, [
    1000,
    2000,
    4000,
    8000,
    16_000,
    32_000,
    64_000,
    128_000,
    256_000,
    OUTAGE_LOG_MAX_MS,
  ]);
  assert.ok(r.lines.every((l) => l.level === 'warn'));
  const second = r.lines[1]!;
  assert.equal(second.msg, 'etcd unreachable since 2026-01-01T00:00:00.000Z (11 failures)');
  assert.equal(second.fields.failures, 11);
});

test('an answer ends the outage with one line; the next outage starts again at 1 s', () => {
  const r = recorder();
  const outage = new OutageLog(r.log, { what: 'etcd', now: r.now });
  outage.ok();
  assert.equal(r.lines.length, 0, 'no outage, nothing to say');
  outage.failed('a');
  r.advance(5000);
  outage.failed('b');
  r.advance(30_000);
  outage.ok();
  outage.ok();
  assert.deepEqual(
    r.lines.map((l) => [l.level, l.msg]),
    [
      ['warn', 'etcd unreachable'],
      ['warn', 'etcd unreachable since 2026-01-01T00:00:00.000Z (2 failures)'],
      ['info', 'etcd answers again after 35 s (2 failures)'],
    ],
  );
  assert.equal(outage.failing, false);
  r.lines.length = 0;
  outage.failed('c');
  r.advance(999);
  outage.failed('d');
  r.advance(1);
  outage.failed('e');
  assert.deepEqual(
    r.lines.map((l) => l.msg),
    ['etcd unreachable', 'etcd unreachable since 2026-01-01T00:00:35.000Z (3 failures)'],
  );
});
