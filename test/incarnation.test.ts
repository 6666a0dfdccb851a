// An agent's incarnation never goes below its last start's (agent/state/incarnation.ts): the clock when
// it is ahead, else one past the last; the choice written before the agent goes on; a damaged file said in
// the log and the clock taken.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import {
  incarnationAfter,
  incarnationPath,
  nextIncarnation,
  parseIncarnation,
} from '../agent/state/incarnation.ts';

describe('incarnation', () => {
  let dir: string;
  const lines: Array<{ msg: string; file?: string; last?: number }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nokube-test-incarnation-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the clock when it is past the last start; one past the last start when it is not', () => {
    assert.equal(incarnationAfter(undefined, 5000), 5000);
    assert.equal(incarnationAfter(4999, 5000), 5000);
    assert.equal(incarnationAfter(5000, 5000), 5001);
    assert.equal(incarnationAfter(9000, 5000), 9001);
  });

  test('only a whole number of ms is an incarnation', () => {
    assert.equal(parseIncarnation('1764900000000\n'), 1764900000000);
    for (const bad of ['', '\n', '0', '-5', '12.5', '1e12', 'abc', '99999999999999999999'])
      assert.equal(parseIncarnation(bad), undefined, JSON.stringify(bad));
  });

  test('first start, then starts with the clock behind and ahead: each written for the next', async () => {
    const ws = join(dir, 'ws');
    const file = incarnationPath(ws);
    assert.equal(await nextIncarnation(file, log, 1000), 1000);
    assert.equal((await readFile(file, 'utf8')).trim(), '1000');
    // The clock went back (a host without a real-time clock booted): one past the last start, said so.
    assert.equal(await nextIncarnation(file, log, 400), 1001);
    assert.equal((await readFile(file, 'utf8')).trim(), '1001');
    assert.ok(lines.some((l) => l.last === 1000 && /clock is behind/.test(l.msg)));
    assert.equal(await nextIncarnation(file, log, 1001), 1002);
    assert.equal(await nextIncarnation(file, log, 7000), 7000);
    assert.equal((await readFile(file, 'utf8')).trim(), '7000');
  });

  test('a damaged file: said in the log with the file named, the clock taken and written', async () => {
    const file = join(dir, 'damaged');
    await writeFile(file, '');
    lines.length = 0;
    assert.equal(await nextIncarnation(file, log, 3000), 3000);
    assert.deepEqual(
      lines.map((l) => [l.file, /holds no incarnation/.test(l.msg)]),
      [[file, true]],
    );
    assert.equal((await readFile(file, 'utf8')).trim(), '3000');
  });
});
