// The lingering check (test/harness/lingering.ts): a test file whose tests passed but whose process stays
// alive fails soon after its last hook, naming what holds it; a file that leaves nothing open exits as
// before. Run as the test script runs files: `node --import lingering.ts --test <file>`, on small files
// written here, with the wait shortened to 300 ms.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO } from './harness/cluster.ts';

const run = (file: string) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', join(REPO, 'test/harness/lingering.ts'), '--test', '--test-reporter=spec', file],
      // Not NODE_TEST_CONTEXT: the child is a test run of its own, not a file of this one.
      {
        env: { ...process.env, NODE_TEST_CONTEXT: undefined, NOKUBE_TEST_LINGER_MS: '300' },
        timeout: 60_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, out: stdout + stderr }),
    );
  });

describe('lingering test processes', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nokube-lingering-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a server, a child and a timer left behind: the file fails, each named', async () => {
    const file = join(dir, 'leaks.test.mjs');
    await writeFile(
      file,
      `import { test } from 'node:test';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
test('passes, leaving things open', () => {
  createServer().listen(0, '127.0.0.1');
  spawn('sleep', ['10']);
  setInterval(() => {}, 60_000);
});
`,
    );
    const r = await run(file);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /this test process is still alive 0\.3 s after its last hook/);
    assert.match(r.out, /server listening on \{"address":"127\.0\.0\.1"/);
    assert.match(r.out, /child process \d+: sleep 10/);
    assert.match(r.out, /setInterval 60000 ms, set at .*leaks\.test\.mjs/);
  });

  test('a file that closes what it opened passes', async () => {
    const file = join(dir, 'clean.test.mjs');
    await writeFile(
      file,
      `import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
test('opens and closes', async () => {
  const t = setInterval(() => {}, 60_000);
  clearInterval(t);
  await sleep(10);
});
`,
    );
    const r = await run(file);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /still alive/);
  });
});
