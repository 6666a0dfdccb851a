// A pod's securityContext on Docker, outside Docker (agent/pods/security.ts): the pod's fields as the
// containers' defaults, theirs winning; what Docker is asked for; the kubelet's runAsNonRoot check; and the
// manifest as kubectl takes it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Container, Pod } from '../agent/objects/types.ts';
import { ManifestError, validateManifestText } from '../agent/objects/validate.ts';
import { dockerUser, effectiveSecurity, nonRootProblem, securityHostConfig } from '../agent/pods/security.ts';
import { specHash } from '../agent/pods/steps/create.ts';

const pod = (spec: Partial<Pod['spec']>): Pod =>
  ({ kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [], ...spec } }) as unknown as Pod;
const c = (securityContext?: Container['securityContext']): Container => ({
  name: 'c',
  image: 'busybox',
  ...(securityContext ? { securityContext } : {}),
});

describe('a container’s security context', () => {
  test('the pod’s fields are defaults, the container’s win; fsGroup and supplementalGroups are the pod’s', () => {
    const p = pod({
      securityContext: {
        runAsUser: 1000,
        runAsGroup: 3000,
        runAsNonRoot: true,
        fsGroup: 2000,
        supplementalGroups: [4000],
      },
    });
    assert.deepEqual(effectiveSecurity(p, c({ runAsUser: 1001, readOnlyRootFilesystem: true })), {
      runAsUser: 1001,
      runAsGroup: 3000,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      fsGroup: 2000,
      supplementalGroups: [4000],
    });
    assert.equal(effectiveSecurity(pod({}), c()), undefined);
  });

  test('what Docker is asked for', () => {
    const sc = {
      runAsUser: 1001,
      runAsGroup: 3000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
      seccompProfile: { type: 'Unconfined' as const },
      fsGroup: 2000,
      supplementalGroups: [4000, 2000],
    };
    assert.equal(dockerUser(sc), '1001:3000');
    assert.equal(dockerUser({ runAsUser: 5 }), '5');
    assert.equal(dockerUser({ runAsGroup: 7 }), '0:7');
    assert.equal(dockerUser({ readOnlyRootFilesystem: true }), undefined);
    assert.deepEqual(securityHostConfig(sc), {
      ReadonlyRootfs: true,
      CapAdd: ['NET_BIND_SERVICE'],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'],
      GroupAdd: ['2000', '4000'],
    });
    assert.deepEqual(securityHostConfig({ privileged: true }), { Privileged: true });
    assert.deepEqual(securityHostConfig(undefined), {});
  });

  test('runAsNonRoot: the user set, else the image’s, must be a known non-zero uid', () => {
    assert.equal(nonRootProblem({ runAsNonRoot: true, runAsUser: 1000 }, ''), undefined);
    assert.match(
      nonRootProblem({ runAsNonRoot: true, runAsUser: 0 }, '1000') ?? '',
      /breaks non-root policy/,
    );
    for (const user of ['', 'root', '0', '0:0'])
      assert.equal(
        nonRootProblem({ runAsNonRoot: true }, user),
        'container has runAsNonRoot and image will run as root',
      );
    assert.match(
      nonRootProblem({ runAsNonRoot: true }, 'nobody') ?? '',
      /non-numeric user \(nobody\), cannot verify/,
    );
    assert.equal(nonRootProblem({ runAsNonRoot: true }, '65534:65534'), undefined);
    assert.equal(nonRootProblem({ runAsUser: 0 }, ''), undefined, 'not asked');
  });

  test('the spec hash: unchanged without any context (no container re-made by the upgrade), changed by the pod’s', () => {
    const plain = c();
    assert.equal(specHash(plain, [], pod({})), specHash(plain, []));
    assert.notEqual(specHash(plain, [], pod({ securityContext: { runAsUser: 1 } })), specHash(plain, []));
  });
});

describe('securityContext manifests', () => {
  const problems = (text: string) => {
    try {
      validateManifestText(text, 'p.yaml');
      return [];
    } catch (err) {
      if (err instanceof ManifestError) return err.problems;
      throw err;
    }
  };
  const manifest = (podSc: string, containerSc: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: ${podSc}\n  containers:\n    - name: c\n      image: busybox\n      securityContext: ${containerSc}\n`;

  test('what charts set is taken', () => {
    assert.deepEqual(
      problems(
        manifest(
          '{runAsNonRoot: true, runAsUser: 1001, runAsGroup: 1001, fsGroup: 1001, supplementalGroups: [5], seccompProfile: {type: RuntimeDefault}}',
          '{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 1001, capabilities: {drop: [ALL]}, privileged: false}',
        ),
      ),
      [],
    );
  });

  test('what nokube cannot do is named: SELinux, sysctls, a Localhost seccomp profile, a negative uid', () => {
    assert.deepEqual(problems(manifest('{sysctls: [], seLinuxOptions: {}}', '{runAsUser: -1}')), [
      'p.yaml:9: document 1 (Pod p): spec.containers[0].securityContext.runAsUser: must be >= 0',
      'p.yaml:5: document 1 (Pod p): spec.securityContext.sysctls: not supported',
      'p.yaml:5: document 1 (Pod p): spec.securityContext.seLinuxOptions: not supported',
    ]);
    assert.match(
      problems(manifest('{seccompProfile: {type: Localhost}}', '{}')).join('\n'),
      /spec\.securityContext\.seccompProfile\.type: must be one of "RuntimeDefault", "Unconfined"/,
    );
  });
});
