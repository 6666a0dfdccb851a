#!/usr/bin/env bash
# The quick start of the README: install, start the Docker engine, build the test image and the single
# binary, bring up a one-host cluster (etcd + a head/worker agent, data under .nokube/local) in the
# background, run the example workload (configs/workloads/hello.yaml) and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/docker-engine.sh start
bash scripts/busybox-image.sh
npm run build --silent
export PATH="$PWD/dist:$PATH"
nokube up --detach
echo
nokube get nodes -o wide
echo
nokube apply -f configs/workloads/hello.yaml
echo "waiting for the example pods to run…"
for _ in $(seq 1 60); do
  running=$(nokube get pods -o json | grep -c '"phase": "Running"' || true)
  [ "$running" -ge 2 ] && break
  sleep 1
done
nokube get pods -o wide
echo
pod=$(nokube get pods -o name | grep '^pod/hello-' | grep -v once | head -1 | cut -d/ -f2)
sleep 1
nokube logs "$pod" --tail 3
echo
echo "The cluster runs in the background. Try: dist/nokube get deployments; dist/nokube describe pod $pod;"
echo "  dist/nokube logs -f $pod; dist/nokube exec $pod -- ps; dist/nokube get nodes -o wide"
echo "Stop it (and its containers) with: dist/nokube down"
