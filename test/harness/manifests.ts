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
