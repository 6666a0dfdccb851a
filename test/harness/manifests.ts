// Manifests the tests apply.

/**
 * A one-container Pod (container `main`) running `sh -c <script>` in `image`, stopped within a second
 * (terminationGracePeriodSeconds 1). `spec` adds fields of the pod spec, e.g. nodeName or restartPolicy.
 */
export function podManifest(
  name: string,
  image: string,
  script: string,
  spec: Record<string, string> = {},
): string {
  const extra = Object.entries(spec)
    .map(([field, value]) => `  ${field}: ${value}\n`)
    .join('');
  // YAML single quotes: a quote inside is written twice.
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
${extra}  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, '${script.replaceAll("'", "''")}']
`;
}

/**
 * A Deployment of `replicas` pods (labels app=<name>) with one container `main` running `sh -c <script>`,
 * stopped within a second. `podSpec` adds YAML lines to the pod template's spec (indented for it).
 */
export function deploymentManifest(
  name: string,
  image: string,
  script: string,
  replicas: number,
  podSpec: string[] = [],
): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
${podSpec.map((l) => `      ${l}\n`).join('')}      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${image}
          command: [sh, -c, '${script.replaceAll("'", "''")}']
`;
}
