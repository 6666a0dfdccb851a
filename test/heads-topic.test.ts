// Frames of the heads' topics (agent/mesh/heads-topic.ts): the topic and the message survive the trip;
// frames too short for their topic are refused, not misread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTopicFrame, encodeTopicFrame } from '../agent/mesh/heads-topic.ts';

test('a topic frame carries its topic and message, whatever bytes the message holds', () => {
  const data = new Uint8Array([0, 1, 2, 255, 123, 34]);
  const frame = encodeTopicFrame('telemetry/1', data);
  assert.equal(frame[0], 'telemetry/1'.length);
  const back = decodeTopicFrame(frame)!;
  assert.equal(back.topic, 'telemetry/1');
  assert.deepEqual([...back.data], [...data]);
  assert.deepEqual(decodeTopicFrame(encodeTopicFrame('t', new Uint8Array()))!.data.length, 0);
});

test('a frame shorter than its topic, an empty one and a topic of no or too many bytes are refused', () => {
  assert.equal(decodeTopicFrame(new Uint8Array()), undefined);
  assert.equal(decodeTopicFrame(new Uint8Array([0, 65])), undefined);
  assert.equal(decodeTopicFrame(new Uint8Array([5, 65, 66])), undefined);
  assert.throws(() => encodeTopicFrame('', new Uint8Array()), /1 to 255 bytes/);
  assert.throws(() => encodeTopicFrame('x'.repeat(256), new Uint8Array()), /1 to 255 bytes/);
});
