// `nokube agent op` network-teardown, as `new-or-update` runs it on a host whose node it removes (its
// agent stopped): in a network namespace made to look like that host, what the node's pod network left
// in the kernel (its bridge, pods table, Services table, VXLAN device, routes of protocol 78 inside
// podCidr) is removed, and nothing else (another cluster's table, a route outside podCidr, a route of
// another protocol); a second run finds nothing and succeeds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { encodeOp } from '../agent/op/op.ts';
import { bridgeName, tableName, vxlanName } from '../agent/podnet/names.ts';
import { tableName as servicesTable } from '../agent/services/nft/plan.ts';
import { cliCommand } from './harness/cluster.ts';

const run = promisify(execFile);
const NS = `nkt-teardown-${process.pid}`;
const CLUSTER = 'edge';
const NODE = 'n7';
const inNs = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', NS, cmd, ...args]);
const links = async () =>
  (JSON.parse((await inNs('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>)
    .map((l) => l.ifname)
    .sort();
const tables = async () =>
  (await inNs('nft', ['list', 'tables'])).stdout.trim().split('\n').filter(Boolean).sort();
const routes = async () =>
  (
    JSON.parse((await inNs('ip', ['-j', 'route', 'show'])).stdout) as Array<{
      dst: string;
      protocol?: string;
    }>
  )
    .map((r) => `${r.dst} ${r.protocol ?? ''}`.trim())
    .sort();

before(async () => {
  await run('ip', ['netns', 'add', NS]);
  const ip = (args: string) => inNs('ip', args.split(' '));
  await ip('link set lo up');
  await ip('link add eth0 type veth peer name eth1');
  await ip('link set eth1 up');
  await ip('addr add 192.0.2.7/24 dev eth0');
  await ip('link set eth0 up');
  await ip(`link add ${bridgeName(CLUSTER, NODE)} type bridge`);
  await ip(`link add ${vxlanName(CLUSTER, NODE)} type vxlan id 1 dstport 8472 local 192.0.2.7 nolearning`);
  await ip('route add 10.42.1.0/24 via 192.0.2.8 proto 78');
  await ip('route add 10.42.2.0/24 via 192.0.2.9 proto 78');
  await ip('route add 10.99.0.0/24 via 192.0.2.9 proto 78');
  await ip('route add 10.42.9.0/24 via 192.0.2.9');
  for (const t of [tableName(CLUSTER, NODE), servicesTable(CLUSTER, NODE), tableName('other', NODE)])
    await inNs('nft', ['add', 'table', 'ip', t]);
});
after(async () => {
  await run('ip', ['netns', 'del', NS]).catch(() => undefined);
});

test('network-teardown removes the node pod network and nothing else; again, it finds nothing', async () => {
  const [bin, args] = cliCommand();
  const teardown = async () => {
    const o = encodeOp({ op: 'network-teardown', cluster: CLUSTER, node: NODE, podCidr: '10.42.0.0/16' });
    const r = await inNs(bin, [...args, 'agent', 'op', o]);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ok: boolean; result?: unknown };
  };
  assert.deepEqual(await teardown(), { ok: true, result: { removed: true } });
  assert.deepEqual(await links(), ['eth0', 'eth1', 'lo']);
  assert.deepEqual(await tables(), [`table ip ${tableName('other', NODE)}`]);
  assert.deepEqual(await routes(), ['10.42.9.0/24', '10.99.0.0/24 78', '192.0.2.0/24 kernel']);
  assert.deepEqual(await teardown(), { ok: true, result: { removed: true } });
});
