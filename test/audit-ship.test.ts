// A head's audit records travel with the agent's own logs to GreptimeDB, as source=audit
// (agent/telemetry/logs/agent-source.ts): what the pipeline takes from the agent's log tap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { createLogger } from '../agent/log/logger.ts';
import { AgentLogSource } from '../agent/telemetry/logs/agent-source.ts';
import type { LogRecord } from '../agent/telemetry/logs/otlp.ts';

test('an audit line of the head goes as source=audit with its fields; other lines stay source=agent', () => {
  const source = new AgentLogSource({
    cluster: 'c',
    node: 'h1',
    resource: resourceFromAttributes({}),
    bounds: { maxRecords: 100, maxBytes: 1 << 20 },
    notify: () => undefined,
  });
  source.attach();
  try {
    const log = createLogger({ node: 'h1' }, 'info');
    log.info({ audit: { user: 'ci', verb: 'delete', resource: 'secrets', result: 'denied' } }, 'audit');
    log.info('agent started');
  } finally {
    source.detach();
  }
  const out: LogRecord[] = [];
  source.buffer.takeInto(out, 10, 1 << 20);
  const [audit, started] = out;
  assert.equal(audit?.attributes.source, 'audit');
  assert.equal(audit?.body, 'audit');
  assert.deepEqual(JSON.parse(String(audit?.attributes.audit)), {
    user: 'ci',
    verb: 'delete',
    resource: 'secrets',
    result: 'denied',
  });
  assert.equal(started?.attributes.source, 'agent');
  assert.equal(started?.attributes.source_id, 'h1');
});
