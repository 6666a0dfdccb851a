// The head's audit log file (head/audit/audit-log.ts): appended in order, readable back filtered, private.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUDIT_QUEUE_MAX, AuditLog, type AuditRecord } from '../head/audit/audit-log.ts';

const rec = (i: number, user = 'ci'): AuditRecord => ({
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  user,
  accessor: `acc-${user}`,
  verb: 'create',
  resource: 'deployments',
  namespace: 'default',
  name: `web-${i}`,
  result: 'allowed',
});

test('records go to one JSON line each, in order, mode 0600; read filters by time and user', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'nokube-audit-')), 'head', 'audit.jsonl');
  const errors: Error[] = [];
  const log = new AuditLog(file, (e) => errors.push(e));
  assert.deepEqual(await log.read(), [], 'no file yet: no records');
  for (let i = 0; i < 5; i++) log.record(rec(i, i % 2 ? 'ops' : 'ci'));
  await log.flush();
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as AuditRecord).name),
    ['web-0', 'web-1', 'web-2', 'web-3', 'web-4'],
  );
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const since = new Date(Date.UTC(2026, 0, 1, 0, 0, 2));
  assert.deepEqual(
    (await log.read({ since })).map((r) => r.name),
    ['web-2', 'web-3', 'web-4'],
  );
  assert.deepEqual(
    (await log.read({ user: 'ops' })).map((r) => r.name),
    ['web-1', 'web-3'],
  );
  assert.deepEqual(errors, []);
});

test('the queue is bounded: records beyond it are counted as dropped, never block', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'nokube-audit-')), 'audit.jsonl');
  const log = new AuditLog(file, () => undefined);
  for (let i = 0; i < AUDIT_QUEUE_MAX + 10; i++) log.record(rec(i % 60));
  assert.ok(log.dropped >= 9, `dropped ${log.dropped}`);
  await log.flush();
  assert.equal((await log.read()).length + log.dropped, AUDIT_QUEUE_MAX + 10);
});
