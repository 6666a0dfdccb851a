// bench/faults: how long the cluster takes to be correct again after each fault of the fault suite
// (test/faults.test.ts, the same scenarios and harness: test/harness/faults/).
//   node bench/faults.ts [--only SUBSTRING] [--verbose]
// One cluster of 3 `ip netns` hosts (f1, f2 heads and workers; f3 a worker), etcd on their gateway, the
// built dist/nokube, the root Docker engine; a Deployment of 4 and a bare pod on f3. Per scenario it prints
// the fault's length, the time from the fault's start and from its end (SIGCONT, heal, restart) to a
// correct cluster (converged: every pod Running on its node with its containers and nothing else, one
// agreed leader, alive records complete; held for 3 s) and whether the checkers found the history
// correct (else the checks that failed; --verbose prints each scenario's violations and history).
// Needs root and `npm run build`. Everything it starts is removed at the end, also on error or Ctrl-C.
import { parseArgs } from 'node:util';
import { type FaultCluster, startFaultCluster } from '../test/harness/faults/cluster.ts';
import { runScenario } from '../test/harness/faults/run.ts';
import { SCENARIOS } from '../test/harness/faults/scenarios/index.ts';
import { LAYOUT, workload } from '../test/harness/faults/workload.ts';
import { cleanupOnSignals } from './cleanup.ts';

const { values } = parseArgs({
  options: { only: { type: 'string' }, verbose: { type: 'boolean', default: false } },
});
const scenarios = SCENARIOS.filter((s) => !values.only || s.name.includes(values.only));
if (scenarios.length === 0) throw new Error(`no scenario's name contains "${values.only}"`);

let fc: FaultCluster | undefined;
cleanupOnSignals(async () => {
  await fc?.stop();
});

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rows: string[] = [
  '| fault | lasted | fault → correct | end → correct | history |',
  '| --- | --- | --- | --- | --- |',
];
try {
  fc = await startFaultCluster(LAYOUT);
  const w = workload(fc.image);
  await fc.cli(['apply', '-f', '-'], w.yaml);
  for (const sc of scenarios) {
    process.stderr.write(`${sc.name}…\n`);
    const o = await runScenario(fc, sc, w).catch((err: Error) => err);
    if (o instanceof Error) {
      // A scenario that could not run (e.g. its manifest refused) is a row, not the end of the bench.
      rows.push(`| ${sc.name} | — | — | — | did not run: ${o.message.split('\n')[0]} |`);
      continue;
    }
    if (values.verbose) process.stderr.write(`${o.report()}\n\n`);
    const counts = new Map<string, number>();
    for (const v of o.violations) counts.set(v.check, (counts.get(v.check) ?? 0) + 1);
    const verdict =
      counts.size === 0 ? 'correct' : [...counts].map(([check, n]) => `${check} ×${n}`).join(', ');
    const done = o.convergedAt;
    rows.push(
      `| ${sc.name} | ${secs(o.endedAt - o.faultAt)} | ${done === undefined ? 'not within 30 s' : secs(done - o.faultAt)} | ${done === undefined ? '—' : secs(done - o.endedAt)} | ${verdict} |`,
    );
  }
} finally {
  await fc?.stop();
}
process.stdout.write(`${rows.join('\n')}\n`);
