// subnetClash (agent/podnet/subnet-clash.ts): another interface's address inside the node's pod subnet
// (a bridge left by another cluster on the same range, a LAN numbered inside it) is named; our own
// bridge and VXLAN device, other ranges and a wider network around the subnet are not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type InterfaceAddresses, subnetClash } from '../agent/podnet/subnet-clash.ts';

const ifaces = (...list: Array<[string, string]>): InterfaceAddresses[] =>
  list.map(([ifname, cidr]) => {
    const [local, prefix] = cidr.split('/');
    return { ifname, addr_info: [{ local: local!, prefixlen: Number(prefix) }] };
  });

test('a table of hosts', () => {
  const cases: Array<[string, InterfaceAddresses[], string | undefined]> = [
    ['nothing else', ifaces(['lo', '127.0.0.1/8'], ['eth0', '192.0.2.2/24']), undefined],
    ['our own bridge', ifaces(['nkb1', '10.177.0.1/24']), undefined],
    ['our own VXLAN device (its VTEP address)', ifaces(['nkx1', '10.177.0.0/32']), undefined],
    ["another cluster's VXLAN device", ifaces(['nkxold', '10.177.0.0/32']), '10.177.0.0/32 on nkxold'],
    ['a stale bridge on the same range', ifaces(['nkbold', '10.177.0.1/24']), '10.177.0.1/24 on nkbold'],
    ['a host address inside the subnet', ifaces(['eth1', '10.177.0.9/16']), '10.177.0.9/16 on eth1'],
    ['the next subnet', ifaces(['nkbold', '10.177.1.1/24']), undefined],
    ['a wider LAN around it, its address outside', ifaces(['eth1', '10.0.0.2/8']), undefined],
    ['no addresses', [{ ifname: 'dummy0' }], undefined],
  ];
  for (const [name, list, want] of cases)
    assert.equal(subnetClash(list, '10.177.0.0/24', ['nkb1', 'nkx1']), want, name);
});
