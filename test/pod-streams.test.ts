// Pod stream pieces that need no cluster: frames, URL parsing, --since durations. The streams themselves
// (logs, exec through a head and a node's agent) are exercised end to end in workloads.test.ts, exec's
// stdin and TTY in exec-stdin.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFrame,
  decodeInputFrame,
  encodeEnd,
  encodeFrame,
  encodeResize,
  FRAME,
  MAX_FRAME_PAYLOAD,
  STDIN_CLOSE,
} from '../agent/remote/frames.ts';
import { parsePodStreamUrl } from '../head/api/pod-streams.ts';
import { parseDuration } from '../head/cli/commands/pod-stream.ts';

test('frames carry bytes and a JSON end', () => {
  const bytes = new TextEncoder().encode('hello\n');
  assert.deepEqual(decodeFrame(encodeFrame(FRAME.stdout, bytes)), { type: 'stdout', data: bytes });
  assert.deepEqual(decodeFrame(encodeFrame(FRAME.stderr, bytes)), { type: 'stderr', data: bytes });
  assert.deepEqual(decodeFrame(encodeEnd({ exitCode: 3 })), { type: 'end', end: { exitCode: 3 } });
  assert.throws(() => decodeFrame(new Uint8Array([9, 1])), /unknown pod stream frame type 9/);
});

test('input frames: stdin bytes, stdin close, a checked terminal size', () => {
  const bytes = new TextEncoder().encode('ls\n');
  assert.deepEqual(decodeInputFrame(encodeFrame(FRAME.stdin, bytes)), { type: 'stdin', data: bytes });
  assert.deepEqual(decodeInputFrame(STDIN_CLOSE), { type: 'stdinClose' });
  assert.deepEqual(decodeInputFrame(encodeResize({ width: 120, height: 40 })), {
    type: 'resize',
    size: { width: 120, height: 40 },
  });
  const resize = (text: string) => encodeFrame(FRAME.resize, new TextEncoder().encode(text));
  for (const bad of [
    '{"width":-1,"height":2}',
    '{"width":1}',
    '{"width":1.5,"height":2}',
    'x',
    '{"width":70000,"height":1}',
  ])
    assert.throws(() => decodeInputFrame(resize(bad)), /resize frame/, bad);
  assert.throws(() => decodeInputFrame(encodeFrame(FRAME.stdout, bytes)), /unknown input frame type 1/);
  assert.throws(
    () => decodeInputFrame(encodeFrame(FRAME.stdin, new Uint8Array(MAX_FRAME_PAYLOAD + 2000))),
    /too big/,
  );
  // Output and input frame types never clash: a decoder takes only its own.
  assert.throws(() => decodeFrame(STDIN_CLOSE), /unknown pod stream frame type 17/);
});

test('log and exec URLs become requests; bad ones say why', () => {
  const u = (s: string) => new URL(s, 'http://head');
  assert.deepEqual(
    parsePodStreamUrl(u('/api/v1/namespaces/ns1/pods/web/log?follow=true&tailLines=5&container=c')),
    {
      op: 'logs',
      namespace: 'ns1',
      pod: 'web',
      container: 'c',
      follow: true,
      tailLines: 5,
      timestamps: false,
    },
  );
  assert.deepEqual(
    parsePodStreamUrl(u('/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=ls')),
    {
      op: 'exec',
      namespace: 'default',
      pod: 'web',
      command: ['sh', '-c', 'ls'],
    },
  );
  assert.deepEqual(
    parsePodStreamUrl(u('/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&tty=true')),
    { op: 'exec', namespace: 'default', pod: 'web', command: ['sh'], stdin: true, tty: true },
  );
  assert.deepEqual(
    parsePodStreamUrl(u('/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=false&tty=false')),
    { op: 'exec', namespace: 'default', pod: 'web', command: ['sh'] },
    'false is left out (a plain exec, understood by older agents)',
  );
  assert.match(String(parsePodStreamUrl(u('/api/v1/namespaces/d/pods/web/exec'))), /command: /);
  assert.match(String(parsePodStreamUrl(u('/api/v1/namespaces/d/pods/web/log?tailLines=-1'))), /tailLines/);
  assert.match(
    String(parsePodStreamUrl(u('/api/v1/namespaces/d/pods/web/log?sinceSeconds=x'))),
    /sinceSeconds/,
  );
});

test('--since durations', () => {
  assert.equal(parseDuration('30s'), 30);
  assert.equal(parseDuration('5m'), 300);
  assert.equal(parseDuration('1h30m'), 5400);
  for (const bad of ['', '0s', '5', '1d', '-1s', 'm'])
    assert.throws(() => parseDuration(bad), /--since/, `${JSON.stringify(bad)} is refused`);
});
