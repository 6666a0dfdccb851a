// Probes on the pod actor, against the fake clock and fake Docker (test/pod-actor-fakes.ts; exec probes
// scripted per command): thresholds, initial delay and period, the startup probe holding the other two,
// liveness and startup kills with their events and grace, Ready and READY, the agent's bound on running
// probes, adoption after an agent restart. Then each action (httpGet, tcpSocket, gRPC health) against
// real sockets in this process. Probes against real containers: test/probes-docker.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bulkhead } from 'cockatiel';
import type { Container, Pod, PodStatus, Probe } from '../agent/objects/types.ts';
import { runAction } from '../agent/pods/actions/run.ts';
import type { ActionTarget } from '../agent/pods/actions/target.ts';
import { systemClock } from '../agent/pods/clock.ts';
import { podReady } from '../head/cli/print/pod-status.ts';
import { probeText } from '../head/cli/print/probe.ts';
import { healthServer } from './harness/grpc-health.ts';
import {
  actorSetup,
  FakeClock,
  FakeDocker,
  makePod,
  type SetupOptions,
  settle,
  sleeper,
} from './pod-actor-fakes.ts';

let workspace: string;
before(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'nokube-probes-'));
});
after(async () => {
  await rm(workspace, { recursive: true, force: true });
});

/** A pod actor whose exec probes answer as `codes` says per command (its first word): exit code, output. */
function setup(pod: Pod, opts: Omit<SetupOptions, 'workspace'> = {}) {
  const f = actorSetup(pod, { workspace, ...opts });
  const codes: Record<string, { exitCode: number; output?: string; ms?: number }> = {};
  f.docker.execBehaviour = (_name, cmd) => ({ ms: 0, ...(codes[cmd[0]!] ?? { exitCode: 0 }) });
  /** The exec calls of a command, as `<ms> <command>`. */
  const execs = (word: string) =>
    f.docker.calls
      .filter((c) => c.split(' ')[1] === 'exec' && c.split(' ')[3] === word)
      .map((c) => Number(c.split(' ')[0]));
  /** Let the kicks probes made run, and return the last status. */
  const status = async (): Promise<PodStatus> => {
    await settle();
    await f.actor.idle();
    return f.reports.at(-1)!;
  };
  const unhealthy = () => f.events.filter((e) => e.reason === 'Unhealthy').map((e) => e.message);
  const killing = () => f.events.filter((e) => e.reason === 'Killing').map((e) => e.message);
  return { ...f, codes, execs, status, unhealthy, killing };
}

const exec = (word: string, extra: Partial<Probe> = {}): Probe => ({ exec: { command: [word] }, ...extra });
const cond = (s: PodStatus, type: string) => s.conditions?.find((c) => c.type === type);
const withStatus = (pod: Pod, status: PodStatus): Pod => ({ ...pod, status });

describe('probes on the pod actor (fake clock)', () => {
  test('readiness: not ready until successThreshold successes; failureThreshold failures make it unready, never restart it', async () => {
    const pod = makePod({
      containers: [
        sleeper({
          readinessProbe: exec('ready', { periodSeconds: 5, successThreshold: 2, failureThreshold: 2 }),
        }),
      ],
    });
    const f = setup(pod);
    f.codes.ready = { exitCode: 1, output: 'not yet' };
    let s = await f.reconcile();
    assert.ok(f.cs(s).state.running);
    assert.equal(f.cs(s).ready, false);
    assert.equal(f.cs(s).started, true);
    assert.equal(cond(s, 'Ready')?.status, 'False');
    assert.equal(cond(s, 'Ready')?.message, 'containers with unready status: [m]');
    assert.equal(cond(s, 'ContainersReady')?.status, 'False');
    assert.equal(podReady(withStatus(pod, s)), '0/1');
    await settle();
    assert.deepEqual(f.unhealthy(), ['Readiness probe failed: command ["ready"] exited with 1: not yet']);
    f.codes.ready = { exitCode: 0 };
    await f.clock.advance(5000);
    assert.equal(f.cs(await f.status()).ready, false, 'one success of two');
    await f.clock.advance(5000);
    s = await f.status();
    assert.equal(f.cs(s).ready, true);
    assert.equal(cond(s, 'Ready')?.status, 'True');
    assert.equal(cond(s, 'ContainersReady')?.status, 'True');
    assert.equal(podReady(withStatus(pod, s)), '1/1');
    f.codes.ready = { exitCode: 1, output: 'overloaded' };
    await f.clock.advance(5000);
    assert.equal(f.cs(await f.status()).ready, true, 'one failure of two');
    await f.clock.advance(5000);
    s = await f.status();
    assert.equal(f.cs(s).ready, false);
    assert.equal(cond(s, 'Ready')?.status, 'False');
    assert.deepEqual(f.execs('ready'), [0, 5000, 10000, 15000, 20000]);
    assert.equal(f.unhealthy().length, 3);
    assert.equal(f.cs(s).restartCount, 0);
    assert.deepEqual(f.killing(), []);
    assert.ok(!f.docker.callNames().some((c) => c.startsWith('stop')));
  });

  test('liveness: first at initialDelaySeconds, then every period; failureThreshold failures kill the container with the probe grace, which restarts with new probes', async () => {
    const pod = makePod({
      terminationGracePeriodSeconds: 30,
      containers: [
        sleeper({
          livenessProbe: exec('live', {
            initialDelaySeconds: 5,
            periodSeconds: 10,
            failureThreshold: 3,
            terminationGracePeriodSeconds: 7,
          }),
        }),
      ],
    });
    const f = setup(pod);
    f.codes.live = { exitCode: 1, output: `sick ${'x'.repeat(5000)}` };
    let s = await f.reconcile();
    assert.equal(f.cs(s).ready, true, 'a liveness probe does not hold readiness');
    await f.clock.advance(24_999);
    assert.deepEqual(f.execs('live'), [5000, 15000]);
    assert.deepEqual(f.killing(), []);
    await f.clock.advance(1);
    s = await f.status();
    assert.deepEqual(f.execs('live'), [5000, 15000, 25000]);
    const messages = f.unhealthy();
    assert.equal(messages.length, 3);
    assert.match(messages[0]!, /^Liveness probe failed: command \["live"\] exited with 1: sick x+$/);
    assert.ok(messages[0]!.length < 1100, 'the output is truncated');
    assert.deepEqual(f.killing(), ['Container m failed liveness probe, will be restarted']);
    assert.ok(f.docker.calls.includes(`25000 stop ${f.name()} t=7`), f.docker.calls.join('\n'));
    assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(f.cs(s).lastState?.terminated?.exitCode, 143);
    assert.equal(f.cs(s).ready, false);
    // The back-off ends: restarted, and probed again from its new start.
    f.codes.live = { exitCode: 0 };
    await f.clock.advance(10_000);
    s = await f.reconcile();
    assert.ok(f.cs(s).state.running);
    assert.equal(f.cs(s).restartCount, 1);
    await f.clock.advance(5000);
    assert.deepEqual(f.execs('live'), [5000, 15000, 25000, 40000]);
    await f.clock.advance(30_000);
    assert.equal(f.killing().length, 1, 'a passing liveness probe kills nothing');
  });

  test('a startup probe holds liveness and readiness until it succeeds; then readiness is probed at once and liveness may kill', async () => {
    const pod = makePod({
      containers: [
        sleeper({
          startupProbe: exec('started', { periodSeconds: 2, failureThreshold: 5 }),
          // Odd seconds (the startup probe's are even): which of two at one instant runs first is not the point.
          livenessProbe: exec('live', { initialDelaySeconds: 1, periodSeconds: 2, failureThreshold: 3 }),
          readinessProbe: exec('ready', { periodSeconds: 30 }),
        }),
      ],
    });
    const f = setup(pod);
    f.codes.started = { exitCode: 1 };
    f.codes.live = { exitCode: 1, output: 'dead' };
    let s = await f.reconcile();
    assert.equal(f.cs(s).started, false);
    assert.equal(f.cs(s).ready, false);
    await f.clock.advance(3999);
    s = await f.status();
    assert.deepEqual(f.execs('started'), [0, 2000]);
    assert.deepEqual(f.execs('live'), [], 'liveness waits for the startup probe');
    assert.deepEqual(f.execs('ready'), [], 'readiness waits for the startup probe');
    assert.deepEqual(f.killing(), []);
    assert.equal(f.cs(s).started, false);
    f.codes.started = { exitCode: 0 };
    await f.clock.advance(1);
    s = await f.status();
    assert.deepEqual(f.execs('started'), [0, 2000, 4000]);
    assert.deepEqual(f.execs('ready'), [4000], 'readiness at once, not 30 s later');
    assert.equal(f.cs(s).started, true);
    assert.equal(f.cs(s).ready, true);
    await f.clock.advance(5000);
    await f.status();
    assert.deepEqual(f.execs('live'), [5000, 7000, 9000]);
    assert.deepEqual(f.killing(), ['Container m failed liveness probe, will be restarted']);
    assert.deepEqual(f.execs('started'), [0, 2000, 4000], 'the startup probe is done');
  });

  test('a startup probe that fails failureThreshold times kills the container with the pod grace', async () => {
    const pod = makePod({
      terminationGracePeriodSeconds: 12,
      containers: [sleeper({ startupProbe: exec('started', { periodSeconds: 1, failureThreshold: 3 }) })],
    });
    const f = setup(pod);
    f.codes.started = { exitCode: 2, output: 'no config' };
    await f.reconcile();
    await f.clock.advance(2000);
    const s = await f.status();
    assert.deepEqual(
      f.unhealthy(),
      Array(3).fill('Startup probe failed: command ["started"] exited with 2: no config'),
    );
    assert.deepEqual(f.killing(), ['Container m failed startup probe, will be restarted']);
    assert.ok(f.docker.calls.includes(`2000 stop ${f.name()} t=12`));
    assert.equal(f.cs(s).state.waiting?.reason, 'CrashLoopBackOff');
  });

  test('restartPolicy Never: a liveness kill ends the pod Failed, and the event does not promise a restart', async () => {
    const pod = makePod({
      restartPolicy: 'Never',
      containers: [sleeper({ livenessProbe: exec('live', { periodSeconds: 1, failureThreshold: 1 }) })],
    });
    const f = setup(pod);
    f.codes.live = { exitCode: 1 };
    await f.reconcile();
    const s = await f.status();
    assert.deepEqual(f.killing(), ['Container m failed liveness probe']);
    assert.equal(s.phase, 'Failed');
    await f.clock.advance(10_000);
    assert.deepEqual(f.execs('live'), [0], 'no probes for a container that does not run');
  });

  test('a readiness probe failing for long: Unhealthy for each failure up to the threshold, then one per 5 minutes', async () => {
    const pod = makePod({
      containers: [sleeper({ readinessProbe: exec('ready', { periodSeconds: 10, failureThreshold: 3 }) })],
    });
    const f = setup(pod);
    f.codes.ready = { exitCode: 1 };
    await f.reconcile();
    await f.clock.advance(600_000);
    assert.equal(f.execs('ready').length, 61);
    assert.equal(f.unhealthy().length, 4, 'at 0, 10 and 20 s, then at 320 s');
  });

  test('timeoutSeconds bounds an attempt: a probe that hangs is a failure', async () => {
    const pod = makePod({
      containers: [sleeper({ readinessProbe: exec('ready', { periodSeconds: 10, timeoutSeconds: 2 }) })],
    });
    const f = setup(pod);
    f.codes.ready = { exitCode: 0, ms: 60_000 };
    await f.reconcile();
    await f.clock.advance(2000);
    assert.deepEqual(f.unhealthy(), ['Readiness probe failed: timed out after 2s']);
    assert.equal(f.cs(await f.status()).ready, false);
  });

  test("the agent's probe slots bound probes running at once; the others wait their turn", async () => {
    const pod = makePod({
      containers: ['a', 'b', 'c'].map((n) =>
        sleeper({ name: n, readinessProbe: exec('ready', { periodSeconds: 10, timeoutSeconds: 1 }) }),
      ),
    });
    const f = setup(pod, { slots: bulkhead(1, 10) });
    f.codes.ready = { exitCode: 0, ms: 400 };
    await f.reconcile();
    await f.clock.advance(1200);
    assert.deepEqual(f.execs('ready'), [0, 400, 800], 'one at a time');
    const s = await f.status();
    assert.deepEqual(
      s.containerStatuses!.map((c) => c.ready),
      [true, true, true],
      'a wait for a slot is not counted in the timeout',
    );
  });

  test('a terminating pod stops its probes', async () => {
    const pod = makePod({
      terminationGracePeriodSeconds: 3,
      containers: [sleeper({ readinessProbe: exec('ready', { periodSeconds: 1 }) })],
    });
    const f = setup(pod);
    await f.reconcile();
    await f.clock.advance(2000);
    assert.deepEqual(f.execs('ready'), [0, 1000, 2000]);
    f.actor.update({
      ...pod,
      metadata: { ...pod.metadata, deletionTimestamp: new Date(f.clock.now()).toISOString() },
    });
    await f.actor.idle();
    await settle();
    assert.equal(f.finished.length, 1);
    assert.equal(f.clock.pending, 0, 'no probe timer left');
    await f.clock.advance(10_000);
    assert.deepEqual(f.execs('ready'), [0, 1000, 2000]);
  });

  test('an agent restart adopts the probe results of a running container: no flap to unready', async () => {
    const c: Container = sleeper({
      startupProbe: exec('started', { periodSeconds: 1 }),
      readinessProbe: exec('ready', { periodSeconds: 10 }),
    });
    const pod = makePod({ containers: [c] });
    const clock = new FakeClock();
    const docker = new FakeDocker(clock);
    const first = setup(pod, { clock, docker });
    await first.reconcile();
    const before = await first.status();
    assert.equal(first.cs(before).ready, true);
    first.actor.detach();
    const calls = docker.calls.length;
    // A new agent: the same container, the status the old one wrote.
    const second = setup(pod, { clock, docker, previous: before });
    const s = await second.reconcile();
    assert.equal(second.cs(s).ready, true, 'ready at once');
    assert.equal(second.cs(s).started, true);
    assert.equal(second.cs(s).restartCount, 0);
    assert.deepEqual(docker.calls.slice(calls), [], 'nothing restarted, nothing probed yet');
    await clock.advance(10_000);
    assert.equal(
      second.execs('ready').length,
      2,
      'the first agent probed once, the second within its first period',
    );
    assert.equal(second.execs('started').length, 1, 'the startup probe is not run again');
  });
});

// ---- the actions, against real sockets ----

const target = (c: Partial<Container> = {}): ActionTarget => ({
  name: 'unused',
  c: { name: 'm', image: 'x', ...c },
  deps: { docker: new FakeDocker(new FakeClock()).asDocker(), clock: systemClock, address: '127.0.0.1' },
});

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe('probe actions', () => {
  test('httpGet: 200-399 success, other codes fail naming them; path, named port, headers; nothing listening', async () => {
    const seen: Array<{ url?: string; headers: Record<string, unknown> }> = [];
    const server = createHttpServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.statusCode = req.url === '/bad' ? 503 : req.url === '/moved' ? 302 : 200;
      res.end('body');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const t = target({ ports: [{ containerPort: port, name: 'web' }] });
      assert.equal(await runAction(t, { httpGet: { port: 'web', path: '/healthz' } }, 1000), undefined);
      assert.equal(await runAction(t, { httpGet: { port, path: 'moved' } }, 1000), undefined);
      assert.equal(
        await runAction(t, { httpGet: { port, path: '/bad' } }, 1000),
        `HTTP GET http://127.0.0.1:${port}/bad: status code 503`,
      );
      await runAction(
        t,
        {
          httpGet: {
            port,
            httpHeaders: [
              { name: 'X-Probe', value: 'a' },
              { name: 'User-Agent', value: 'me' },
            ],
          },
        },
        1000,
      );
      assert.deepEqual(
        seen.map((s) => s.url),
        ['/healthz', '/moved', '/bad', '/'],
      );
      assert.equal(seen[0]!.headers['user-agent'], 'kube-probe/nokube');
      assert.equal(seen[3]!.headers['x-probe'], 'a');
      assert.equal(seen[3]!.headers['user-agent'], 'me');
    } finally {
      server.close();
    }
    const closed = await freePort();
    assert.match(
      (await runAction(target(), { httpGet: { port: closed } }, 1000)) ?? '',
      new RegExp(`^HTTP GET http://127.0.0.1:${closed}/: .*ECONNREFUSED`),
    );
  });

  test('httpGet that does not answer within the timeout', async () => {
    const server = createTcpServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      assert.equal(await runAction(target(), { httpGet: { port } }, 1000), 'timed out after 1s');
    } finally {
      server.close();
    }
  });

  test('tcpSocket: a listening port succeeds, a closed one fails', async () => {
    const server = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      assert.equal(await runAction(target(), { tcpSocket: { port } }, 1000), undefined);
    } finally {
      server.close();
    }
    const closed = await freePort();
    assert.equal(
      await runAction(target(), { tcpSocket: { port: closed } }, 1000),
      `dial tcp 127.0.0.1:${closed}: ECONNREFUSED`,
    );
  });

  test('grpc: SERVING succeeds; NOT_SERVING, an unknown service and nothing listening fail', async () => {
    const { server, port, set } = await healthServer();
    try {
      set('', 1);
      set('db', 2);
      assert.equal(await runAction(target(), { grpc: { port } }, 2000), undefined);
      assert.equal(
        await runAction(target(), { grpc: { port, service: 'db' } }, 2000),
        'service unhealthy (responded with "NOT_SERVING")',
      );
      assert.equal(
        await runAction(target(), { grpc: { port, service: 'nope' } }, 2000),
        `gRPC health check of 127.0.0.1:${port}: NOT_FOUND: unknown service nope`,
      );
    } finally {
      server.forceShutdown();
    }
    const closed = await freePort();
    assert.match(
      (await runAction(target(), { grpc: { port: closed } }, 2000)) ?? '',
      new RegExp(`^gRPC health check of 127.0.0.1:${closed}: UNAVAILABLE`),
    );
  });
});

test('describe prints a probe as kubectl does', () => {
  assert.equal(
    probeText({ httpGet: { port: 8080, path: '/healthz' }, initialDelaySeconds: 3 }),
    'http-get http://:8080/healthz delay=3s timeout=1s period=10s #success=1 #failure=3',
  );
  assert.equal(
    probeText({ exec: { command: ['cat', '/ok'] }, periodSeconds: 2, failureThreshold: 30 }),
    'exec [cat /ok] delay=0s timeout=1s period=2s #success=1 #failure=30',
  );
  assert.equal(
    probeText({ tcpSocket: { port: 'db' } }),
    'tcp-socket :db delay=0s timeout=1s period=10s #success=1 #failure=3',
  );
  assert.equal(
    probeText({ grpc: { port: 9000, service: 'x' } }),
    'grpc <pod>:9000 x delay=0s timeout=1s period=10s #success=1 #failure=3',
  );
});
