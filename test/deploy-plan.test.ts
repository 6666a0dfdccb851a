// The per-node deploy plan: a table of observed states and the steps each must lead to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostFacts } from '../agent/op/facts.ts';
import { type DesiredNode, type NodePlan, planNode } from '../head/cli/deploy/plan.ts';
import { formatPlan } from '../head/cli/deploy/plan-print.ts';

const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const desired: DesiredNode = {
  name: 'h0',
  binarySha256: B,
  configSha256: C,
  configPath: '/opt/nokube/cluster.yaml',
};

function facts(binary: string | null, config: string | null, running: boolean): HostFacts {
  return {
    os: 'linux',
    arch: 'x64',
    kernel: '6',
    distro: null,
    docker: { cli: true, socket: true },
    freeDiskBytes: 1e9,
    binary: binary ? { sha256: binary, version: '0.1.0' } : null,
    files: { '/opt/nokube/cluster.yaml': config },
    service: running
      ? { state: 'running', pid: 9, command: ['x'] }
      : { state: 'stopped', pid: null, command: null },
  };
}

test('plan per node: install, upgrade, config change, start, nothing to do', () => {
  const cases: Array<[string, HostFacts | null, NodePlan['change'], NodePlan['steps']]> = [
    ['bare host', null, 'install', ['upload-binary', 'upload-config', 'start']],
    ['up to date and running', facts(B, C, true), 'nothing to do', []],
    ['up to date, stopped', facts(B, C, false), 'start', ['start']],
    ['other binary, running', facts('a'.repeat(64), C, true), 'upgrade', ['upload-binary', 'restart']],
    ['binary there, config missing', facts(B, null, false), 'config change', ['upload-config', 'start']],
    [
      'config changed, running',
      facts(B, 'd'.repeat(64), true),
      'config change',
      ['upload-config', 'restart'],
    ],
    [
      'both changed',
      facts('a'.repeat(64), null, true),
      'upgrade',
      ['upload-binary', 'upload-config', 'restart'],
    ],
  ];
  for (const [name, observed, change, steps] of cases) {
    const p = planNode(desired, observed);
    assert.equal(p.change, change, name);
    assert.deepEqual(p.steps, steps, name);
    assert.equal(p.reasons.length > 0, change !== 'nothing to do', name);
  }
});

test('a network section changed: running agents restart (they read it when they start), others as before', () => {
  const changed = { ...desired, startupChange: 'the network section changed' };
  const cases: Array<[string, HostFacts | null, NodePlan['change'], NodePlan['steps']]> = [
    ['up to date and running', facts(B, C, true), 'config change', ['restart']],
    ['up to date, stopped', facts(B, C, false), 'start', ['start']],
    ['config changed too', facts(B, 'd'.repeat(64), true), 'config change', ['upload-config', 'restart']],
    ['bare host', null, 'install', ['upload-binary', 'upload-config', 'start']],
  ];
  for (const [name, observed, change, steps] of cases) {
    const p = planNode(changed, observed);
    assert.equal(p.change, change, name);
    assert.deepEqual(p.steps, steps, name);
  }
  assert.ok(planNode(changed, facts(B, C, true)).reasons.includes('the network section changed'));
});

test('the printed plan: a line per node, its reasons, a summary', () => {
  const text = formatPlan([planNode(desired, null), planNode({ ...desired, name: 'h1' }, facts(B, C, true))]);
  assert.equal(
    text,
    [
      '  + h0: install (upload-binary, upload-config, start)',
      '      nokube is not installed',
      '  = h1: nothing to do',
      '',
      'Plan: 1 of 2 hosts to change.',
      '',
    ].join('\n'),
  );
  assert.match(formatPlan([planNode(desired, facts(B, C, true))]), /Plan: no change on any of 1 hosts\./);
});
