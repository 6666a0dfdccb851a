// IPv4 CIDR helpers (agent/net/cidr.ts): parse, contain, overlap, the n-th address and subnet.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addressAt,
  cidrContains,
  cidrSize,
  cidrsOverlap,
  formatCidr,
  indexOf,
  parseCidr,
  parseIp,
  subnetAt,
  subnetCount,
} from '../agent/net/cidr.ts';

describe('cidr', () => {
  test('parses blocks and refuses what is not one', () => {
    assert.deepEqual(parseCidr('10.42.0.0/16'), { base: 0x0a2a0000, prefix: 16 });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { base: 0, prefix: 0 });
    assert.deepEqual(parseCidr('255.255.255.255/32'), { base: 0xffffffff, prefix: 32 });
    assert.throws(() => parseCidr('10.42.0.0'), /not an IPv4 CIDR/);
    assert.throws(() => parseCidr('10.42.0.0/33'), /prefix must be 0 to 32/);
    assert.throws(() => parseCidr('10.42.0.1/16'), /host bits set \(the network is 10.42.0.0\/16\)/);
    assert.throws(() => parseCidr('10.256.0.0/16'), /not an IPv4 address/);
    assert.throws(() => parseCidr('010.1.0.0/16'), /not an IPv4 address/);
    assert.throws(() => parseCidr('fd00::/64'), /not an IPv4 address/);
    assert.throws(() => parseIp('1.2.3'), /not an IPv4 address/);
  });

  test('contains addresses and blocks, overlap both ways', () => {
    assert.ok(cidrContains('10.42.0.0/16', '10.42.255.255'));
    assert.ok(!cidrContains('10.42.0.0/16', '10.43.0.0'));
    assert.ok(cidrContains('10.42.0.0/16', '10.42.3.0/24'));
    assert.ok(!cidrContains('10.42.3.0/24', '10.42.0.0/16'));
    assert.ok(cidrContains('0.0.0.0/0', '255.255.255.255'));
    assert.ok(cidrsOverlap('10.0.0.0/8', '10.43.0.0/16'));
    assert.ok(cidrsOverlap('10.43.0.0/16', '10.0.0.0/8'));
    assert.ok(!cidrsOverlap('10.42.0.0/16', '10.43.0.0/16'));
    assert.ok(cidrsOverlap('10.42.0.0/16', '10.42.0.0/16'));
  });

  test('sizes, n-th address and its inverse, n-th subnet', () => {
    assert.equal(cidrSize('10.42.0.0/16'), 65536);
    assert.equal(cidrSize('1.2.3.4/32'), 1);
    assert.equal(cidrSize('0.0.0.0/0'), 2 ** 32);
    assert.equal(addressAt('10.42.3.0/24', 1), '10.42.3.1');
    assert.equal(addressAt('10.42.0.0/16', 256), '10.42.1.0');
    assert.equal(addressAt('128.0.0.0/1', 2 ** 31 - 1), '255.255.255.255');
    assert.throws(() => addressAt('10.42.3.0/24', 256), /outside 10.42.3.0\/24/);
    assert.throws(() => addressAt('10.42.3.0/24', -1), /outside/);
    assert.equal(indexOf('10.42.3.0/24', '10.42.3.17'), 17);
    assert.throws(() => indexOf('10.42.3.0/24', '10.42.4.1'), /outside/);
    assert.equal(subnetCount('10.42.0.0/16', 24), 256);
    assert.equal(subnetCount('10.42.0.0/16', 16), 1);
    assert.equal(subnetCount('10.42.0.0/16', 12), 0);
    assert.equal(formatCidr(subnetAt('10.42.0.0/16', 24, 3)), '10.42.3.0/24');
    assert.equal(formatCidr(subnetAt('10.42.0.0/16', 26, 5)), '10.42.1.64/26');
    assert.throws(() => subnetAt('10.42.0.0/16', 24, 256), /outside/);
  });
});
