#!/usr/bin/env bash
# The quick start of the README: install, build the single binary, bring up a one-host cluster
# (etcd + a head/worker agent, data under .nokube/local) in the background, and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent
export PATH="$PWD/dist:$PATH"
nokube up --detach
echo
nokube get nodes -o wide
echo
nokube members
echo
echo "The cluster runs in the background. Try: dist/nokube config get; dist/nokube config set nodes.local.labels.zone lab; dist/nokube get nodes -o wide"
echo "Stop it with: dist/nokube down"
