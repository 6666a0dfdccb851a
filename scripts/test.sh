#!/usr/bin/env bash
# The test command of the README: installs what is needed, then lint, types, build, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm test
