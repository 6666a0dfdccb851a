// Where an agent finds its cluster: etcd:// and etcds:// sources, and the TLS flags that go with them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfigSource } from '../agent/config/source.ts';

const tls = { ca: '/t/ca.pem', cert: '/t/cert.pem', key: '/t/key.pem' };

test('etcd:// is plain http; etcds:// is https with the TLS files; mismatches are refused', async () => {
  assert.deepEqual(await resolveConfigSource('etcd://10.0.0.1:2379,10.0.0.2:2379/fleet'), {
    cluster: 'fleet',
    etcd: { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], dialTimeoutMs: 5000 },
  });
  assert.deepEqual(await resolveConfigSource('etcds://10.0.0.1:2379/fleet', tls), {
    cluster: 'fleet',
    etcd: { endpoints: ['https://10.0.0.1:2379'], dialTimeoutMs: 5000, tls },
  });
  await assert.rejects(resolveConfigSource('etcds://10.0.0.1:2379/fleet'), /etcds:\/\/ needs the TLS files/);
  await assert.rejects(
    resolveConfigSource('etcd://10.0.0.1:2379/fleet', tls),
    /plain etcd:\/\/ source \(use etcds/,
  );
  await assert.rejects(
    resolveConfigSource('/no/such/cluster.yaml', tls),
    /go with an etcds:\/\/ source only/,
  );
});
