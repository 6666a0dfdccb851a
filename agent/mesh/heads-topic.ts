// Topics for the heads (telemetry summaries for the console and `nokube top`): every agent sends each
// message straight to every alive head (direct.ts, HEADS_CHANNEL) and nothing relays it, so a head gets
// one copy of each message, first-hand from the node it is about, and no agent carries another's traffic.
// (Over gossipsub every head also relayed every other node's summary to its mesh peers and received
// copies it then dropped.) A frame: the topic's length (1 byte), the topic (UTF-8), the message.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeTopicFrame(topic: string, data: Uint8Array): Uint8Array {
  const name = encoder.encode(topic);
  if (name.length === 0 || name.length > 255) throw new Error(`topic name "${topic}": 1 to 255 bytes`);
  const frame = new Uint8Array(1 + name.length + data.length);
  frame[0] = name.length;
  frame.set(name, 1);
  frame.set(data, 1 + name.length);
  return frame;
}

/** The topic and message of a frame; undefined when it is too short to hold its topic. */
export function decodeTopicFrame(frame: Uint8Array): { topic: string; data: Uint8Array } | undefined {
  const len = frame[0];
  if (len === undefined || len === 0 || frame.length < 1 + len) return undefined;
  return { topic: decoder.decode(frame.subarray(1, 1 + len)), data: frame.subarray(1 + len) };
}
