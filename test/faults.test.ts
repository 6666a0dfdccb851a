// The fault suite (issue 13): one cluster of 3 `ip netns` hosts (f1, f2 heads and workers; f3 a worker),
// real etcd on their gateway, the built binary, the root Docker engine; a Deployment of 4 and a bare pod on
// f3. Each scenario pauses, kills, stops or cuts off a process or a host, ends the fault, waits for the
// cluster to be correct again, and judges the recorded history (pods in etcd, containers per node every
// 250 ms, alive records, leader) with the checkers of test/harness/faults/check/. Needs root and
// `npm run build`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FaultCluster, startFaultCluster } from './harness/faults/cluster.ts';
import { runScenario } from './harness/faults/run.ts';
import { SCENARIOS } from './harness/faults/scenarios/index.ts';
import { LAYOUT, type Workload, workload } from './harness/faults/workload.ts';

describe('faults: pauses, crashes and partitions of a 3-host cluster', { timeout: 900_000 }, () => {
  let fc: FaultCluster;
  let w: Workload;

  before(async () => {
    fc = await startFaultCluster(LAYOUT);
    w = workload(fc.image);
    await fc.cli(['apply', '-f', '-'], w.yaml);
  });
  after(async () => {
    await fc?.stop();
  });

  for (const sc of SCENARIOS)
    test(sc.name, async () => {
      const outcome = await runScenario(fc, sc, w);
      if (process.env.NOKUBE_FAULTS_HISTORY) process.stderr.write(`${outcome.report()}\n`);
      assert.equal(outcome.violations.length, 0, outcome.report());
    });
});
