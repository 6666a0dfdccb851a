// A node's facts read at agent start: from the kernel and /etc, no child process (systeminformation only
// where there is a display device). Real Docker for the engine's version.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import Docker from 'dockerode';
import { parseOsRelease, readNodeFacts } from '../agent/node/facts.ts';
import { parseMounts } from '../agent/node/mounts.ts';

test('the facts of this host: CPUs, memory, OS as the kernel and os-release say, the engine that answers', async () => {
  const facts = await readNodeFacts(new Docker());
  assert.equal(facts.cpus, os.availableParallelism());
  assert.equal(facts.memoryBytes, os.totalmem());
  assert.deepEqual(facts.os, {
    platform: 'linux',
    ...parseOsRelease(readFileSync('/etc/os-release', 'utf8')),
    kernel: os.release(),
    arch: os.arch(),
  });
  assert.notEqual(facts.os.distro, 'unknown');
  assert.equal(facts.containerRuntime?.name, 'docker');
  assert.match(facts.containerRuntime?.version ?? '', /^\d+\.\d+/);
  for (const d of facts.disks) assert.ok(d.mount.startsWith('/') && d.sizeBytes > 0, JSON.stringify(d));
});

test('os-release: NAME and VERSION_ID, quoted or not; missing fields are unknown', () => {
  assert.deepEqual(
    parseOsRelease(
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n',
    ),
    {
      distro: 'Debian GNU/Linux',
      release: '12',
    },
  );
  assert.deepEqual(parseOsRelease("NAME=Alpine\nVERSION_ID='3.20.1'\n"), {
    distro: 'Alpine',
    release: '3.20.1',
  });
  assert.deepEqual(parseOsRelease('NAME=Arch Linux\n'), { distro: 'Arch Linux', release: 'unknown' });
  assert.deepEqual(parseOsRelease(''), { distro: 'unknown', release: 'unknown' });
});

test('mounts: disks only, one row per device, escaped names decoded', () => {
  const text = [
    '/dev/sda1 / ext4 rw,relatime 0 0',
    'proc /proc proc rw 0 0',
    'tmpfs /run tmpfs rw 0 0',
    '/dev/sdb1 /mnt/my\\040data xfs rw 0 0',
    '/dev/sda1 /var/lib/bind ext4 rw 0 0',
    'overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0',
  ].join('\n');
  assert.deepEqual(parseMounts(text), [
    { mount: '/', device: '/dev/sda1' },
    { mount: '/mnt/my data', device: '/dev/sdb1' },
  ]);
});
