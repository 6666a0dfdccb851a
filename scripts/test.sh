#!/usr/bin/env bash
# The test command of the README: installs what is needed, starts the Docker engine unless one answers
# (scripts/docker-engine.sh; it stays running), then lint, types, build, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
bash scripts/docker-engine.sh start
npm test
