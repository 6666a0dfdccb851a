#!/usr/bin/env bash
# The test command of the README: installs what is needed, starts the Docker engine unless one answers
# (scripts/docker-engine.sh; it stays running), builds the test image, then lint, types, build, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
bash scripts/docker-engine.sh start
# The workload tests' image, built once here: test files run side by side and would each build it.
bash scripts/busybox-image.sh >/dev/null
npm test
