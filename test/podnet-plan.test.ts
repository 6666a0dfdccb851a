// The pure parts of the pod network (agent/podnet): kernel names per cluster and node, the nftables
// table as text, the pods' addresses kept in the workspace, host ports as DNAT rules, and which ports
// are host ports with and without a pod network (agent/scheduler/host-ports.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Pod } from '../agent/objects/types.ts';
import { bridgeName, tableName, vethMac, vethName, vethPeerName } from '../agent/podnet/names.ts';
import { PodIps, podIpsPath } from '../agent/podnet/pod-ips.ts';
import { hostPortRules, onPodNetwork } from '../agent/podnet/pod-network.ts';
import { rulesetBody, rulesetDigest, rulesetFile } from '../agent/podnet/ruleset.ts';
import { pickFree } from '../agent/podnet/subnet.ts';
import { hostPortsOf } from '../agent/scheduler/host-ports.ts';

const pod = (spec: Partial<Pod['spec']>, uid = 'u1'): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default', uid },
    spec: { containers: [{ name: 'web', image: 'x' }], ...spec },
  }) as Pod;

describe('pod network planning', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('names fit an interface name, differ per cluster and node, and are stable', () => {
    const names = [
      bridgeName('c1', 'a'),
      bridgeName('c1', 'b'),
      bridgeName('c2', 'a'),
      vethName('u1'),
      vethPeerName('u1'),
    ];
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.ok(n.length <= 15 && /^[a-z0-9]+$/.test(n), n);
    assert.equal(bridgeName('c1', 'a'), bridgeName('c1', 'a'));
    assert.notEqual(tableName('c1', 'a'), tableName('c1', 'b'));
    assert.match(tableName('c1', 'a'), /^nokube_pods_[0-9a-f]{8}$/);
  });

  test("a pod veth's MAC: locally administered unicast, stable per pod, one per pod", () => {
    assert.match(vethMac('u1'), /^02(:[0-9a-f]{2}){5}$/);
    assert.equal(vethMac('u1'), vethMac('u1'));
    assert.notEqual(vethMac('u1'), vethMac('u2'));
  });

  test('the table: masquerade out of the pod CIDR, host ports DNATed, one digest per wish', () => {
    const r = {
      table: 'nokube_pods_x',
      subnet: '10.42.3.0/24',
      podCidr: '10.42.0.0/16',
      hostPorts: [
        { protocol: 'UDP' as const, port: 53, hostIP: '0.0.0.0', podIP: '10.42.3.4', podPort: 5353 },
        { protocol: 'TCP' as const, port: 8080, hostIP: '192.0.2.1', podIP: '10.42.3.2', podPort: 80 },
      ],
    };
    const body = rulesetBody(r);
    assert.ok(body.includes('ip saddr 10.42.3.0/24 ip daddr != 10.42.0.0/16 masquerade'));
    // A host port reached on a loopback address: masqueraded towards the pod.
    assert.ok(body.includes('ct status dnat ip saddr 127.0.0.0/8 ip daddr 10.42.3.0/24 masquerade'));
    assert.ok(body.includes('fib daddr type local udp dport 53 dnat to 10.42.3.4:5353'));
    assert.ok(body.includes('ip daddr 192.0.2.1 tcp dport 8080 dnat to 10.42.3.2:80'));
    // In prerouting (from outside) and output (from the node itself).
    assert.equal(body.split('tcp dport 8080').length - 1, 2);
    // Order of the wish does not matter; a change does.
    assert.equal(rulesetDigest(r), rulesetDigest({ ...r, hostPorts: [...r.hostPorts].reverse() }));
    assert.notEqual(rulesetDigest(r), rulesetDigest({ ...r, hostPorts: r.hostPorts.slice(1) }));
    const file = rulesetFile(r);
    assert.ok(
      file.startsWith('table ip nokube_pods_x {}\ndelete table ip nokube_pods_x\ntable ip nokube_pods_x {\n'),
    );
    assert.ok(file.includes(`comment "nokube pod network ${rulesetDigest(r)}"`));
    // No overlay: nothing untracked.
    assert.ok(!body.includes('notrack'));
  });

  test("the table with backend vxlan: the overlay's packets skip conntrack, going out and coming in", () => {
    const r = { table: 't', subnet: '10.42.3.0/24', podCidr: '10.42.0.0/16', hostPorts: [] };
    const body = rulesetBody({ ...r, untrackedUdpPort: 8472 });
    for (const hook of ['prerouting', 'output'])
      assert.match(
        body,
        new RegExp(
          `chain raw-${hook} \\{\\n\\s+type filter hook ${hook} priority raw; policy accept;\\n\\s+udp dport 8472 notrack\\n`,
        ),
      );
    assert.notEqual(rulesetDigest(r), rulesetDigest({ ...r, untrackedUdpPort: 8472 }));
  });

  test('pod addresses: from the third address on, kept across a reload, released, full is an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'podnet-plan-'));
    dirs.push(dir);
    const ips = new PodIps(dir, '10.42.3.0/29');
    await ips.load();
    const a = await ips.allocate('a', 'default/a', () => []);
    const b = await ips.allocate('b', 'default/b', (ip) => [
      { protocol: 'TCP', port: 8080, hostIP: '0.0.0.0', podIP: ip, podPort: 80 },
    ]);
    assert.deepEqual([a.ip, b.ip], ['10.42.3.2', '10.42.3.3']);
    assert.equal((await ips.allocate('a', 'default/a', () => [])).ip, '10.42.3.2');
    const again = new PodIps(dir, '10.42.3.0/29');
    await again.load();
    assert.deepEqual(again.get('b'), b);
    await again.release('a');
    assert.equal((await again.allocate('c', 'default/c', () => [])).ip, '10.42.3.2');
    for (const uid of ['d', 'e', 'f']) await again.allocate(uid, uid, () => []);
    await assert.rejects(
      again.allocate('g', 'g', () => []),
      /10\.42\.3\.0\/29 has no free address \(5 pods\)/,
    );
    // Another subnet (the node's block changed): the old addresses are not used.
    const moved = new PodIps(dir, '10.42.4.0/24');
    await moved.load();
    assert.equal(moved.entries().length, 0);
    assert.match(await readFile(podIpsPath(dir), 'utf8'), /"subnet": "10\.42\.3\.0\/29"/);
  });

  test('host ports: hostPort rules to the pod; with a pod network only hostNetwork pods take containerPorts', () => {
    const spec = {
      containers: [
        {
          name: 'web',
          image: 'x',
          ports: [
            { containerPort: 80, hostPort: 8080 },
            { containerPort: 9090 },
            { containerPort: 53, hostPort: 53, protocol: 'UDP' as const },
          ],
        },
      ],
    };
    assert.deepEqual(hostPortRules(pod(spec), '10.42.0.2'), [
      { protocol: 'TCP', port: 8080, hostIP: '0.0.0.0', podIP: '10.42.0.2', podPort: 80 },
      { protocol: 'UDP', port: 53, hostIP: '0.0.0.0', podIP: '10.42.0.2', podPort: 53 },
    ]);
    assert.deepEqual(
      hostPortsOf(spec, true).map((p) => p.port),
      [8080, 53],
    );
    assert.deepEqual(
      hostPortsOf(spec).map((p) => p.port),
      [80, 9090, 53],
    );
    assert.deepEqual(
      hostPortsOf({ ...spec, hostNetwork: true }, true).map((p) => p.port),
      [80, 9090, 53],
    );
    assert.ok(onPodNetwork(pod({})));
    assert.ok(!onPodNetwork(pod({ hostNetwork: true })));
  });

  test('a free node subnet: the preferred one when it is free and fits, else the first free', () => {
    const net = { podCidr: '10.42.0.0/22', nodeMaskSize: 24 };
    assert.equal(pickFree(net, new Set(['10.42.0.0/24'])), '10.42.1.0/24');
    assert.equal(pickFree(net, new Set(), '10.42.2.0/24'), '10.42.2.0/24');
    assert.equal(pickFree(net, new Set(['10.42.2.0/24']), '10.42.2.0/24'), '10.42.0.0/24');
    assert.equal(pickFree(net, new Set(), '10.43.2.0/24'), '10.42.0.0/24');
    assert.equal(
      pickFree(net, new Set(['10.42.0.0/24', '10.42.1.0/24', '10.42.2.0/24', '10.42.3.0/24'])),
      undefined,
    );
  });
});
