// The head's audit log file (head/audit/audit-log.ts): appended in order, readable back filtered, private;
// rotated by size with a bounded number of files kept, read back across them, nothing lost on the way.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUDIT_QUEUE_MAX, AuditLog, type AuditRecord, type AuditRotation } from '../head/audit/audit-log.ts';

/** Large enough never to rotate in the tests that are not about rotation. */
const NO_ROTATION: AuditRotation = { maxBytes: 1 << 30, maxFiles: 1 };
const auditLog = (file: string, onError: (e: Error) => void, rotation = NO_ROTATION) =>
  new AuditLog({ file, rotation: () => rotation, onError });

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
  const log = auditLog(file, (e) => errors.push(e));
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
  const log = auditLog(file, () => undefined);
  for (let i = 0; i < AUDIT_QUEUE_MAX + 10; i++) log.record(rec(i % 60));
  assert.ok(log.dropped >= 9, `dropped ${log.dropped}`);
  await log.flush();
  assert.equal((await log.read()).length + log.dropped, AUDIT_QUEUE_MAX + 10);
});

const lineBytes = (r: AuditRecord) => Buffer.byteLength(`${JSON.stringify(r)}\n`);

test('rotation by size: audit.1.jsonl ... kept up to maxFiles, each file within maxBytes, oldest removed; read spans them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-audit-'));
  const file = join(dir, 'audit.jsonl');
  const errors: Error[] = [];
  // Four records a file (web-10 and on are a byte longer than web-9); three rotated files kept.
  const rotation = { maxBytes: lineBytes(rec(10)) * 4, maxFiles: 3 };
  const log = auditLog(file, (e) => errors.push(e), rotation);
  // One batch and then one record at a time: both paths of the writer.
  for (let i = 0; i < 10; i++) log.record(rec(i));
  await log.flush();
  for (let i = 10; i < 22; i++) {
    log.record(rec(i));
    await log.flush();
  }
  assert.deepEqual(errors, []);
  assert.deepEqual((await readdir(dir)).sort(), [
    'audit.1.jsonl',
    'audit.2.jsonl',
    'audit.3.jsonl',
    'audit.jsonl',
  ]);
  const names = async (f: string) =>
    (await readFile(join(dir, f), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as AuditRecord).name);
  assert.deepEqual(await names('audit.jsonl'), ['web-20', 'web-21']);
  assert.deepEqual(await names('audit.1.jsonl'), ['web-16', 'web-17', 'web-18', 'web-19']);
  assert.deepEqual(await names('audit.3.jsonl'), ['web-8', 'web-9', 'web-10', 'web-11']);
  for (const f of await readdir(dir)) {
    const s = await stat(join(dir, f));
    assert.ok(s.size <= rotation.maxBytes, `${f}: ${s.size} bytes`);
    assert.equal(s.mode & 0o777, 0o600, f);
  }
  // Oldest first across the files, and `since` reaches into the rotated ones.
  assert.deepEqual(
    (await log.read()).map((r) => r.name),
    Array.from({ length: 14 }, (_, i) => `web-${i + 8}`),
  );
  assert.deepEqual(
    (await log.read({ since: new Date(Date.UTC(2026, 0, 1, 0, 0, 10)) })).map((r) => r.name),
    Array.from({ length: 12 }, (_, i) => `web-${i + 10}`),
  );
  // A smaller maxFiles (config changed) removes the surplus at the next rotation.
  rotation.maxFiles = 1;
  for (let i = 22; i < 25; i++) log.record(rec(i));
  await log.flush();
  assert.deepEqual((await readdir(dir)).sort(), ['audit.1.jsonl', 'audit.jsonl']);
  assert.deepEqual(
    (await log.read()).map((r) => r.name),
    ['web-20', 'web-21', 'web-22', 'web-23', 'web-24'],
  );
});

test('rotation loses nothing: records written while readers read, every one read back once, in order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-audit-'));
  const file = join(dir, 'audit.jsonl');
  const errors: Error[] = [];
  // Room for every record: what is read must be exactly what was written.
  const log = auditLog(file, (e) => errors.push(e), { maxBytes: lineBytes(rec(0)) * 3, maxFiles: 1000 });
  const total = 600;
  const readers: Array<Promise<AuditRecord[]>> = [];
  for (let i = 0; i < total; i++) {
    log.record({ ...rec(i % 60), name: `r-${i}` });
    if (i % 50 === 0) readers.push(log.read());
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
  for (const partial of await Promise.all(readers)) {
    // A read taken meanwhile sees a prefix of the records, without a gap or a repeat.
    assert.deepEqual(
      partial.map((r) => r.name),
      Array.from({ length: partial.length }, (_, i) => `r-${i}`),
    );
  }
  const all = await log.read();
  assert.deepEqual(
    all.map((r) => r.name),
    Array.from({ length: total }, (_, i) => `r-${i}`),
  );
  assert.equal(log.dropped, 0);
  assert.deepEqual(errors, []);
});

test('a record bigger than maxBytes goes whole into a file of its own; a torn last line is skipped, and the next record is kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-audit-'));
  const file = join(dir, 'audit.jsonl');
  const log = auditLog(file, () => undefined, { maxBytes: 64, maxFiles: 2 });
  log.record(rec(1));
  log.record({ ...rec(2), reason: 'x'.repeat(500) });
  log.record(rec(3));
  await log.flush();
  assert.equal((await readFile(join(dir, 'audit.1.jsonl'), 'utf8')).split('\n').length, 2, 'one record');
  // A crash in the middle of an append leaves a partial line: the records around it are still read.
  await appendFile(file, '{"time":"2026-01-01T00:00:0');
  assert.deepEqual(
    (await log.read()).map((r) => r.name),
    ['web-1', 'web-2', 'web-3'],
  );
  // A head started again after it: its first record starts a line of its own, so it is kept.
  const again = auditLog(file, () => undefined, { maxBytes: 1 << 20, maxFiles: 2 });
  again.record(rec(4));
  assert.deepEqual(
    (await again.read()).map((r) => r.name),
    ['web-1', 'web-2', 'web-3', 'web-4'],
  );
});

test('read with since skips rotated files last written before it, unopened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-audit-'));
  const file = join(dir, 'audit.jsonl');
  const log = auditLog(file, () => undefined, { maxBytes: lineBytes(rec(0)), maxFiles: 5 });
  for (let i = 0; i < 3; i++) log.record(rec(i));
  await log.flush();
  // audit.2.jsonl holds web-0; make it look written long ago and hold a record that says otherwise:
  // only a file written at or after `since` is read.
  const old = new Date(Date.UTC(2020, 0, 1));
  await appendFile(join(dir, 'audit.2.jsonl'), `${JSON.stringify({ ...rec(59), name: 'stale' })}\n`);
  await utimes(join(dir, 'audit.2.jsonl'), old, old);
  const since = new Date(Date.UTC(2025, 0, 1));
  assert.deepEqual(
    (await log.read({ since })).map((r) => r.name),
    ['web-1', 'web-2'],
  );
});

test('readNewest keeps the newest records only, counting those left out', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'nokube-audit-')), 'audit.jsonl');
  const log = auditLog(file, () => undefined, { maxBytes: lineBytes(rec(10)) * 7, maxFiles: 5 });
  for (let i = 0; i < 30; i++) log.record(rec(i, i % 3 ? 'ci' : 'ops'));
  const newest = await log.readNewest({}, 4);
  assert.deepEqual(
    newest.items.map((r) => r.name),
    ['web-26', 'web-27', 'web-28', 'web-29'],
  );
  assert.equal(newest.omitted, 26);
  const ops = await log.readNewest({ user: 'ops' }, 3);
  assert.deepEqual(
    ops.items.map((r) => r.name),
    ['web-21', 'web-24', 'web-27'],
  );
  assert.equal(ops.omitted, 7);
});
