#!/usr/bin/env bash
# Installs what nokube needs on a Debian host: system packages (as root) and the npm dependencies
# (which bring the pinned Node.js 22). Not root and a package missing: says what to install, exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: command that proves it is there -> package that provides it. etcd and Docker run a
# cluster (the quick start); iproute2 and nftables wire the pod network (agent/podnet), conntrack deletes
# stale UDP flows of Services (agent/services/proxy); with --tests also what only the tests use: a registry on loopback (image
# pulls), victoria-metrics (the PromQL store of the metrics tests: it takes Prometheus remote write, like
# GreptimeDB), chromium (the web console test), openssh-server/-client (an sshd and keys per test host of
# the deploy tests, test/harness/hosts.ts; iproute2 makes their network namespaces), openssl (certificates of the
# TLS tests), python3 (its pty module drives `exec -t` on a terminal, test/harness/pty.ts), systemd (only its
# `systemd-analyze verify` checks the agent's unit file; nothing is booted), iperf3 (bench/network).
declare -A NEED=([etcd]=etcd-server [dockerd]=docker.io [docker]=docker.io [ip]=iproute2 [nft]=nftables [nsenter]=util-linux [conntrack]=conntrack)
if [[ ${1:-} == --tests ]]; then
  NEED+=([docker-registry]=docker-registry [victoria-metrics]=victoria-metrics [chromium]=chromium [sshd]=openssh-server [ssh-keygen]=openssh-client)
  NEED+=([openssl]=openssl [python3]=python3 [systemd-analyze]=systemd [iperf3]=iperf3)
fi
declare -A MISSING=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || MISSING[${NEED[$cmd]}]=1
done
# The test image needs a static /bin/busybox (Debian's plain `busybox` is dynamic: useless in an empty image).
[[ -x /bin/busybox && $(LC_ALL=C ldd /bin/busybox 2>&1) == *'not a dynamic executable'* ]] || MISSING[busybox-static]=1
missing=("${!MISSING[@]}")
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "installing Debian packages: ${missing[*]}"
    # Keep package scripts from starting services (docker.io would start dockerd with flags this host
    # may not allow, and fail the install): scripts/docker-engine.sh starts the engine instead.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
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
  # `npm ci`: exactly what package-lock.json says, never a rewrite of it. The lock file lists every
  # platform's optional packages (esbuild's, biome's), so it is whole on any machine; test/lockfile.test.ts
  # keeps it so.
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/node -e 'if (+process.versions.node.split(".")[0] < 22) { console.error("node_modules/.bin/node is " + process.version + ", need >= 22"); process.exit(1) }'
