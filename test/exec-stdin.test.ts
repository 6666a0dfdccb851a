// `nokube exec -i` / `-t` end to end: a real etcd, two agents (n1 the head, n2 a worker) on the real Docker
// engine. Each case runs against a pod on n2 (the head relays over the mesh) and one on n1 (the head runs
// the exec itself): stdin reaches the command and its end ends it, big inputs arrive whole, exit codes come
// back, a client that vanishes takes its exec with it, and on a pseudo-terminal (test/harness/pty.ts)
// the command gets a TTY of the terminal's size, resizes and keys (Ctrl-C included), and the terminal is
// restored afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { cliCommand, createTestCluster, eventually, runCli, type TestCluster } from './harness/cluster.ts';
import { ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { podManifest } from './harness/manifests.ts';
import { runOnPty } from './harness/pty.ts';

const PODS = [
  { pod: 'on-n2', path: 'relayed over the mesh' },
  { pod: 'on-n1', path: 'run by the head itself' },
];

describe('exec with stdin and a TTY', { timeout: 600_000 }, () => {
  let c: TestCluster;

  const LOOP = 'trap "exit 0" TERM; while true; do sleep 1; done';

  before(async () => {
    await requireDocker(); // no engine: the suite fails here, it does not skip
    const image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 2, net: 47 });
    for (const n of c.nodes) await c.startAgent(n.name);
    await eventually(
      async () => (await runCli(['get', 'nodes', '-o', 'json'], c.env)).stdout.split('"Ready"').length > 2,
      30_000,
      'two nodes Ready',
    );
    const manifests = [
      podManifest('on-n1', image, LOOP, { nodeName: 'n1' }),
      podManifest('on-n2', image, LOOP, { nodeName: 'n2' }),
      // Runs `true` once and stays exited.
      podManifest('finished', image, 'true', { nodeName: 'n2', restartPolicy: 'Never' }),
    ].join('---\n');
    // Through the head's API, which may answer a moment after its node is Ready.
    await eventually(
      async () => {
        const r = await runCli(['apply', '-f', '-'], c.env, manifests);
        if (r.code !== 0) throw new Error(r.stderr);
        return true;
      },
      30_000,
      'the pods applied',
    );
    for (const { pod } of PODS)
      await eventually(
        async () => (await runCli(['exec', pod, '--', 'true'], c.env)).code === 0,
        120_000,
        `pod ${pod} running`,
      );
    await eventually(
      async () => {
        const r = await runCli(['get', 'pod', 'finished', '-o', 'json'], c.env);
        return (
          r.code === 0 &&
          (JSON.parse(r.stdout) as { status?: { phase?: string } }).status?.phase === 'Succeeded'
        );
      },
      60_000,
      'pod finished Succeeded',
    );
  });
  after(async () => {
    await c?.stop();
  });

  for (const { pod, path } of PODS) {
    test(`${pod} (${path}): stdin reaches cat, its end ends it, exit 0`, async () => {
      const r = await runCli(['exec', '-i', pod, '--', 'cat'], c.env, 'hello\n');
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, 'hello\n');
      assert.equal(r.code, 0);
    });

    test(`${pod} (${path}): 200 KB of every byte value arrive whole, cut into frames`, async () => {
      const input = new Uint8Array(200 * 1024 + 7).map((_, i) => (i * 7919) % 256);
      const sum = createHash('sha256').update(input).digest('hex');
      const r = await runCli(
        ['exec', '-i', pod, '--', 'sh', '-c', 'tee /tmp/in | wc -c; sha256sum </tmp/in'],
        c.env,
        input,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${input.length}\n${sum}  -\n`);
    });

    test(`${pod} (${path}): 16 MiB to a command that reads after 2 s: held back, bounded`, async () => {
      const input = new Uint8Array(16 * 1024 * 1024).fill(0x61);
      const r = await runCli(['exec', '-i', pod, '--', 'sh', '-c', 'sleep 2; wc -c'], c.env, input);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), String(input.length));
    });

    test(`${pod} (${path}): the command's exit code is ours with -i`, async () => {
      const r = await runCli(
        ['exec', '-i', pod, '--', 'sh', '-c', 'read line; echo "got $line" >&2; exit 5'],
        c.env,
        'x\n',
      );
      assert.equal(r.stderr, 'got x\n');
      assert.equal(r.code, 5);
    });

    test(`${pod} (${path}): a client that vanishes takes its exec with it`, async () => {
      const [cmd, base] = cliCommand();
      const marker = `vanish-${pod}`;
      const child = spawn(cmd, [...base, 'exec', '-i', pod, '--', 'sh', '-c', `cat; : ${marker}`], {
        env: { ...process.env, ...c.env },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      const ps = async () => (await runCli(['exec', pod, '--', 'ps', '-o', 'args'], c.env)).stdout;
      try {
        await eventually(async () => (await ps()).includes(marker), 20_000, 'the exec to run');
      } finally {
        child.kill('SIGKILL');
      }
      await eventually(async () => !(await ps()).includes(marker), 20_000, 'the exec to end with its client');
    });

    test(`${pod} (${path}): -t on a pty: a TTY of its size, resized, Ctrl-C to the command`, async () => {
      const [cmd, base] = cliCommand();
      const script =
        'trap "echo got-int; exit 9" INT; tty; while read line; do echo "size $(stty size)"; done';
      const r = await runOnPty({
        // The shell around the CLI prints the terminal's modes once the CLI is gone.
        argv: [
          'sh',
          '-c',
          '"$@"; code=$?; stty -a; exit $code',
          'sh',
          cmd,
          ...base,
          'exec',
          '-it',
          pod,
          '--',
          'sh',
          '-c',
          script,
        ],
        env: c.env,
        rows: 30,
        cols: 100,
        steps: [
          { wait: '/dev/pts/\\d+' },
          // The size is set right after the command starts (as docker exec does): ask until it shows.
          { writeUntil: '\r', until: 'size 30 100' },
          { resize: [40, 120] },
          { writeUntil: '\r', until: 'size 40 120' },
          { write: '\x03' },
          { wait: 'got-int' },
        ],
      });
      assert.equal(r.failed, null, `step ${JSON.stringify(r.failed)} timed out; output:\n${r.output}`);
      assert.equal(r.exitCode, 9, r.output);
      const modes = r.output.slice(r.output.indexOf('got-int'));
      assert.match(modes, /(^|\s)icanon(\s|;|$)/m, `the terminal is back in canonical mode:\n${modes}`);
      assert.match(modes, /(^|\s)echo(\s|;|$)/m, `and echoes again:\n${modes}`);
    });
  }

  test("-it with stdin not a terminal: kubectl's warning, then the command runs without a TTY", async () => {
    const r = await runCli(
      ['exec', '-it', 'on-n2', '--', 'sh', '-c', '[ -t 0 ] && echo tty || echo no-tty; cat'],
      c.env,
      'in\n',
    );
    assert.equal(r.stderr, 'Unable to use a TTY - input is not a terminal or the right kind of file\n');
    assert.equal(r.stdout, 'no-tty\nin\n');
    assert.equal(r.code, 0);
  });

  test('-i against a pod whose container has exited, or no pod: the reason, non-zero', async () => {
    const exited = await runCli(['exec', '-i', 'finished', '--', 'cat'], c.env, 'x\n');
    assert.notEqual(exited.code, 0);
    assert.match(exited.stderr, /cannot exec in container main of pod finished: it is exited/);
    assert.equal(exited.stdout, '');
    const missing = await runCli(['exec', '-i', 'nope', '--', 'cat'], c.env, 'x\n');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /pods "nope" not found in namespace default/);
  });
});
