// Every fault scenario, in the order the suite and the bench run them.
import type { Scenario } from '../run.ts';
import { freezeScenarios } from './freeze.ts';
import { killScenarios } from './kill.ts';
import { partitionScenarios } from './partition.ts';
import { stopScenario } from './stop.ts';
import { tolerationScenario } from './toleration.ts';

const [leader, nonLeader, worker, etcd] = freezeScenarios as [Scenario, Scenario, Scenario, Scenario];

export const SCENARIOS: Scenario[] = [
  leader,
  nonLeader,
  worker,
  tolerationScenario,
  etcd,
  ...killScenarios,
  stopScenario,
  ...partitionScenarios,
];
