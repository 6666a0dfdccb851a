// Pod Security "baseline" admission (head/admission/pod-security.ts): pure rules over the pod specs of
// Pods and of the controllers' templates.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject, PodSpec } from '../agent/objects/types.ts';
import { baselineRefusal, baselineViolations, underPrefix } from '../head/admission/pod-security.ts';

const meta = (name: string, namespace = 'default') => ({
  name,
  namespace,
  uid: '',
  resourceVersion: '',
  generation: 0,
  creationTimestamp: '',
});
const pod = (spec: Partial<PodSpec>, namespace?: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('p', namespace),
    spec: { containers: [{ name: 'main', image: 'busybox' }], ...spec },
  }) as KubeObject;
const deployment = (spec: Partial<PodSpec>): KubeObject =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web'),
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'main', image: 'busybox' }], ...spec },
      },
    },
  }) as KubeObject;
const hostPath = (name: string, path: string) => ({ volumes: [{ name, hostPath: { path } }] });

describe('Pod Security baseline', () => {
  test('a prefix holds itself and what is below it, by whole segments', () => {
    assert.ok(underPrefix('/srv/data', '/srv/data'));
    assert.ok(underPrefix('/srv/data/x/y', '/srv/data/'));
    assert.ok(!underPrefix('/srv/database', '/srv/data'));
    assert.ok(!underPrefix('/srv/data/../../etc', '/srv/data'), '.. does not escape');
    assert.ok(underPrefix('/anything', '/'));
  });

  test('hostPath: none allowed where none is listed; allowed under the namespace prefixes only', () => {
    const rules = { hostPathPrefixes: { team: ['/srv/team'] } };
    assert.deepEqual(baselineViolations(pod(hostPath('root', '/')), rules), [
      'hostPath volume "root" (path "/"): no hostPath is allowed in namespace "default" (admission.hostPathPrefixes)',
    ]);
    assert.deepEqual(baselineViolations(pod(hostPath('data', '/srv/team/db'), 'team'), rules), []);
    assert.deepEqual(baselineViolations(pod(hostPath('etc', '/etc'), 'team'), rules), [
      'hostPath volume "etc" (path "/etc"): it is not under /srv/team, the prefixes allowed in namespace "team" (admission.hostPathPrefixes)',
    ]);
    assert.deepEqual(baselineViolations(pod(hostPath('root', '/')), undefined).length, 1, 'no rules: none');
  });

  test('host ports below 1024 refused (every containerPort is a host port); 1024 and up admitted', () => {
    const ports = (...n: number[]) => ({
      containers: [{ name: 'web', image: 'nginx', ports: n.map((containerPort) => ({ containerPort })) }],
    });
    assert.deepEqual(baselineViolations(pod(ports(80, 8080)), undefined), [
      'host port 80/TCP (container "web"): below 1024',
    ]);
    assert.deepEqual(baselineViolations(pod(ports(1024)), undefined), []);
  });

  test("hostNetwork: true refused (the node's network namespace); false admitted", () => {
    assert.deepEqual(baselineViolations(pod({ hostNetwork: true }), undefined), [
      "hostNetwork: true (the node's network namespace)",
    ]);
    assert.deepEqual(baselineViolations(pod({ hostNetwork: false }), undefined), []);
  });

  test('security contexts: privileged, capabilities beyond the default set and seccomp Unconfined refused (init containers too)', () => {
    const c = (securityContext: NonNullable<PodSpec['containers'][number]['securityContext']>) => ({
      name: 'main',
      image: 'busybox',
      securityContext,
    });
    assert.deepEqual(
      baselineViolations(
        pod({
          initContainers: [c({ privileged: true })],
          containers: [
            c({ capabilities: { add: ['NET_BIND_SERVICE', 'CAP_CHOWN', 'NET_ADMIN', 'SYS_ADMIN'] } }),
          ],
        }),
        undefined,
      ),
      [
        'privileged (container "main" must not set securityContext.privileged=true)',
        'non-default capabilities (container "main" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add)',
      ],
    );
    assert.deepEqual(
      baselineViolations(
        pod({
          securityContext: { seccompProfile: { type: 'Unconfined' } },
          containers: [c({ seccompProfile: { type: 'Unconfined' } })],
        }),
        undefined,
      ),
      [
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
        'seccompProfile (container "main" must not set securityContext.seccompProfile.type to "Unconfined")',
      ],
    );
    // What charts set to harden a pod passes.
    const hardened = pod({
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1001,
        fsGroup: 1001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        c({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
          privileged: false,
        }),
      ],
    });
    assert.deepEqual(baselineViolations(hardened, undefined), []);
  });

  test('the template of a controller is checked like a pod; the refusal names the rule', () => {
    assert.equal(
      baselineRefusal('deployments.apps "web"', deployment(hostPath('root', '/')), undefined),
      'deployments.apps "web" is forbidden: violates PodSecurity "baseline": hostPath volume "root" (path "/"): no hostPath is allowed in namespace "default" (admission.hostPathPrefixes)',
    );
    assert.equal(baselineRefusal('deployments.apps "web"', deployment({}), undefined), undefined);
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('c'),
      data: {},
    } as unknown as KubeObject;
    assert.deepEqual(baselineViolations(cm, undefined), [], 'no pod spec: nothing to say');
  });
});
