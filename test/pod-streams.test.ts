// Pod stream pieces that need no cluster: frames, URL parsing, --since durations. The streams themselves
// (logs, exec through a head and a node's agent) are exercised end to end in workloads.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../agent/cli/commands/pod-stream.ts';
import { decodeFrame, encodeEnd, encodeFrame, FRAME } from '../agent/remote/frames.ts';
import { parsePodStreamUrl } from '../head/api/pod-streams.ts';

test('frames carry bytes and a JSON end', () => {
  const bytes = new TextEncoder().encode('hello\n');
  assert.deepEqual(decodeFrame(encodeFrame(FRAME.stdout, bytes)), { type: 'stdout', data: bytes });
  assert.deepEqual(decodeFrame(encodeFrame(FRAME.stderr, bytes)), { type: 'stderr', data: bytes });
  assert.deepEqual(decodeFrame(encodeEnd({ exitCode: 3 })), { type: 'end', end: { exitCode: 3 } });
  assert.throws(() => decodeFrame(new Uint8Array([9, 1])), /unknown pod stream frame type 9/);
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
