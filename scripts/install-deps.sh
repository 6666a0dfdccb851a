#!/usr/bin/env bash
# Installs what nokube needs on a Debian host: system packages (as root) and the npm dependencies
# (which bring the pinned Node.js 22). Not root and a package missing: says what to install, exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: command that proves it is there -> package that provides it.
declare -A NEED=([etcd]=etcd-server)
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm is the only thing taken from the machine; Node.js 22 itself comes from the `node` dev dependency.
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: install Debian's npm (apt-get install npm) or any Node.js distribution" >&2
  exit 1
fi
if [[ ! -x node_modules/.bin/node ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  # `npm install` rather than `npm ci`: npm 11 drops other platforms' optional packages from a lock file
  # written without registry URLs, and `npm ci` then refuses it as out of sync.
  npm install --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/node -e 'if (+process.versions.node.split(".")[0] < 22) { console.error("node_modules/.bin/node is " + process.version + ", need >= 22"); process.exit(1) }'
