// The Docker test infrastructure: the engine answers (or the harness fails loudly), the busybox test image
// runs with host network and resource limits, and a loopback registry takes a push and gives it back.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import {
  type Docker,
  ensureBusyboxImage,
  imageExists,
  pullImage,
  pushImage,
  removeContainers,
  requireDocker,
  splitRepoTag,
  startRegistry,
  type TestRegistry,
} from './harness/docker.ts';

const LABELS = { 'nokube-test': 'docker-harness', 'nokube-test-run': String(process.pid) };

/** Non-TTY container logs are frames: 8-byte header (stream, 0, 0, 0, size BE32), then the bytes. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    const text = buf.subarray(i + 8, i + 8 + size).toString();
    if (buf[i] === 2) out.stderr += text;
    else out.stdout += text;
    i += 8 + size;
  }
  return out;
}

describe('docker harness', { timeout: 120_000 }, () => {
  let docker: Docker;
  let image: string;
  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
  });
  after(async () => {
    if (docker) await removeContainers(docker, LABELS);
  });

  test('the engine answers', async () => {
    const v = await docker.version();
    assert.match(v.Version, /^\d+\.\d+/);
    assert.equal(v.Os, 'linux');
  });

  test('requireDocker throws with the start command when no engine answers', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      await assert.rejects(
        requireDocker(),
        /^Error: no Docker engine at unix:\/\/\/nonexistent\/docker\.sock .*start one with scripts\/docker-engine\.sh start$/,
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  test('busybox runs `echo hi` with host network, 64 MiB and half a CPU', async () => {
    const container = await docker.createContainer({
      Image: image,
      Cmd: [
        'sh',
        '-c',
        // cgroup v2 files first, then v1; the limits the kernel enforces, not only what Docker recorded.
        'echo hi; hostname; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes;' +
          ' cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
      ],
      Labels: LABELS,
      HostConfig: { NetworkMode: 'host', Memory: 64 * 1024 * 1024, NanoCpus: 500_000_000 },
    });
    await container.start();
    const { StatusCode } = await container.wait();
    const { stdout, stderr } = demux(await container.logs({ stdout: true, stderr: true, follow: false }));
    assert.equal(StatusCode, 0, stderr);
    const [hi, host, memory, cpu] = stdout.trim().split('\n');
    assert.equal(hi, 'hi');
    assert.equal(host, hostname(), 'host network shares the host name');
    assert.equal(memory, String(64 * 1024 * 1024));
    assert.match(cpu ?? '', /^50000( 100000)?$/);
    const info = await container.inspect();
    assert.equal(info.HostConfig.NetworkMode, 'host');
    assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(await removeContainers(docker, LABELS), 1);
    await assert.rejects(container.inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
  });

  describe('loopback registry', () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startRegistry();
    });
    after(async () => registry?.stop());

    test('a pushed image comes back by pull after the local tag is removed', async () => {
      const ref = await pushImage(docker, image, registry.host, 'nokube-test/busybox:pushed');
      assert.equal(ref, `${registry.host}/nokube-test/busybox:pushed`);
      const id = (await docker.getImage(image).inspect()).Id;
      await docker.getImage(ref).remove();
      assert.equal(await imageExists(docker, ref), false);
      await pullImage(docker, ref);
      assert.equal((await docker.getImage(ref).inspect()).Id, id);
      await docker.getImage(ref).remove();
    });

    test('pulling a repository the registry does not have fails', async () => {
      await assert.rejects(
        pullImage(docker, `${registry.host}/nokube-test/missing:1`),
        /manifest unknown|not found/,
      );
    });

    test('stop ends the registry', async () => {
      const r = await startRegistry();
      await r.stop();
      assert.notEqual(r.process.exitCode ?? r.process.signalCode, null);
      await assert.rejects(fetch(`http://${r.host}/v2/`));
    });
  });

  test('splitRepoTag keeps a registry port out of the tag', () => {
    assert.deepEqual(splitRepoTag('127.0.0.1:5000/a/b'), { repo: '127.0.0.1:5000/a/b', tag: 'latest' });
    assert.deepEqual(splitRepoTag('127.0.0.1:5000/a/b:2'), { repo: '127.0.0.1:5000/a/b', tag: '2' });
    assert.deepEqual(splitRepoTag('busybox'), { repo: 'busybox', tag: 'latest' });
  });
});
