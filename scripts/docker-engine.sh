#!/usr/bin/env bash
# The Docker engine the workload tests use, on /var/run/docker.sock.
#   docker-engine.sh start [LOG]   start dockerd unless an engine already answers; wait until it does
#   docker-engine.sh stop          stop the dockerd whose pid is in /var/run/docker.pid
#   docker-engine.sh status        say whether an engine answers (exit 0) or not (exit 1)
# dockerd runs with --iptables=false --bridge=none (this sandbox allows neither iptables nor bridges):
# containers get the host network (--network host) or none. Its log goes to LOG, else
# $NOKUBE_DOCKERD_LOG, else /tmp/nokube-dockerd.log. Extra dockerd flags: $NOKUBE_DOCKERD_ARGS.
# $NOKUBE_DOCKERD_WAIT bounds the wait for start-up, in seconds (default 60).
set -euo pipefail

SOCK=/var/run/docker.sock
PIDFILE=/var/run/docker.pid
HERE=$(cd "$(dirname "$0")" && pwd)

answers() { docker -H "unix://$SOCK" info >/dev/null 2>&1; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "docker-engine.sh $1: dockerd must run as root; run: sudo bash $HERE/docker-engine.sh $1" >&2
    exit 1
  fi
}

need_binaries() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(dockerd)
  command -v docker >/dev/null 2>&1 || missing+=(docker)
  if ((${#missing[@]} > 0)); then
    echo "docker-engine.sh: ${missing[*]} not found: apt-get install docker.io (or run scripts/install-deps.sh as root)" >&2
    exit 1
  fi
}

dockerd_pid() {
  local pid
  [[ -r $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  # /proc rather than kill -0, which a non-root caller may not send to root's dockerd
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] && echo "$pid"
}

start() {
  need_binaries
  if answers; then
    echo "docker engine already running on $SOCK"
    return 0
  fi
  need_root start
  local log=${1:-${NOKUBE_DOCKERD_LOG:-/tmp/nokube-dockerd.log}}
  local wait=${NOKUBE_DOCKERD_WAIT:-60}
  local pid
  if pid=$(dockerd_pid); then
    echo "dockerd (pid $pid) is running but not answering yet; waiting"
  else
    mkdir -p "$(dirname "$log")"
    # setsid + nohup, stdio away from ours: it outlives this script and whatever runs it (CI, a test).
    # shellcheck disable=SC2086 # NOKUBE_DOCKERD_ARGS is a list of flags
    setsid nohup dockerd --iptables=false --bridge=none ${NOKUBE_DOCKERD_ARGS:-} </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "started dockerd (pid $pid), log $log"
  fi
  local deadline=$((SECONDS + wait))
  until answers; do
    if [[ ! -d /proc/$pid ]]; then
      echo "docker-engine.sh: dockerd exited during start-up; last lines of $log:" >&2
      tail -n 25 "$log" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "docker-engine.sh: dockerd (pid $pid) did not answer on $SOCK within ${wait}s; last lines of $log:" >&2
      tail -n 25 "$log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "docker engine ready on $SOCK ($(docker -H "unix://$SOCK" version -f '{{.Server.Version}}' 2>/dev/null))"
}

stop() {
  local pid
  if ! pid=$(dockerd_pid); then
    if answers; then
      echo "docker-engine.sh: an engine answers on $SOCK but $PIDFILE names no live dockerd; stop it the way it was started" >&2
      exit 1
    fi
    echo "docker engine not running"
    return 0
  fi
  need_root stop
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while [[ -d /proc/$pid ]]; do
    if ((SECONDS >= deadline)); then
      echo "docker-engine.sh: dockerd (pid $pid) still running 30s after SIGTERM" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "stopped dockerd (pid $pid)"
}

status() {
  if command -v docker >/dev/null 2>&1 && answers; then
    echo "docker engine running on $SOCK ($(docker -H "unix://$SOCK" version -f '{{.Server.Version}}' 2>/dev/null))"
  elif [[ -S $SOCK && ! -w $SOCK ]]; then
    echo "no access to $SOCK: run as root (or in the socket's group)"
    return 1
  else
    echo "no docker engine answers on $SOCK (start one with: bash $HERE/docker-engine.sh start)"
    return 1
  fi
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: $0 start [LOG] | stop | status" >&2
  exit 2
  ;;
esac
