// The Service proxy part (agent/services/proxy) on a node without `nft`, against a real etcd: one clear
// error and one Warning event however often it tries again, and the part keeps running (the pods part
// is not its business). No kernel is touched.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { AgentContext } from '../agent/context.ts';
import { ServiceProxy } from '../agent/services/proxy/part.ts';
import { connectEtcd } from '../agent/store/etcd.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';

let etcd: TestEtcd;
let dir: string;
before(async () => {
  etcd = await startTestEtcd();
  dir = await mkdtemp(join(tmpdir(), 'nokube-test-proxy-'));
});
after(async () => {
  await etcd?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('no nft on the node: one clear error and one Warning event, tried again, the part keeps running', async () => {
  const client = await connectEtcd({ endpoints: [etcd.url], dialTimeoutMs: 3000 });
  const lines: Array<{ level: number; msg: string; err?: string }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const warnings: string[] = [];
  const network = {
    mode: 'pod',
    podCidr: '10.42.0.0/16',
    nodeMaskSize: 24,
    serviceCidr: '10.43.0.0/16',
    nodePortRange: '30000-32767',
    clusterDomain: 'cluster.local',
    backend: 'vxlan',
    sandboxImage: 'pause',
  };
  const ctx = {
    cluster: 'nonft',
    nodeName: 'n1',
    etcd: client,
    log,
    recorder: {
      warning: (_ref: unknown, reason: string, message: string) => warnings.push(`${reason}: ${message}`),
    },
    self: () => ({ workspace: dir }),
    config: () => ({ network }),
  } as unknown as AgentContext;
  const path = process.env.PATH;
  process.env.PATH = join(dir, 'empty');
  const proxy = new ServiceProxy(ctx, network as never, log);
  try {
    await proxy.start();
    // Both informers list (an empty cluster): the load is tried and fails for want of nft.
    await eventually(() => lines.some((l) => l.level === 50), 10_000, 'the error line');
    for (let i = 0; i < 3; i++) {
      proxy.schedule();
      await proxy.settled();
    }
    const errors = lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(
      errors[0]!.msg,
      /service rules not loaded: this node's ClusterIPs and NodePorts are not routed/,
    );
    assert.equal(errors[0]!.err, '`nft` not found (install nftables)');
    assert.deepEqual(warnings, [
      'ServiceRulesFailed: service rules not loaded: `nft` not found (install nftables)',
    ]);
  } finally {
    process.env.PATH = path;
    await proxy.stop();
    client.close();
  }
});
