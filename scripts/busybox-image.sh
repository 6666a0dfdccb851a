#!/usr/bin/env bash
# Builds a tiny local image for the workload tests, with no registry: Debian's static busybox as
# /bin/busybox, a link in /bin for each of its applets, an empty /tmp; PATH=/bin, CMD sh. (Pod sandboxes
# need no image from here: the agent makes its built-in one, network.sandboxImage's default.)
#   busybox-image.sh [--force] [IMAGE-REF]    (default ref nokube-test/busybox:1)
# Does nothing for an image that exists already, unless --force. Needs a running engine
# (scripts/docker-engine.sh start) and busybox-static.
set -euo pipefail

force=0
ref=nokube-test/busybox:1
for arg in "$@"; do
  case "$arg" in
  --force) force=1 ;;
  -*)
    echo "usage: $0 [--force] [IMAGE-REF]" >&2
    exit 2
    ;;
  *) ref=$arg ;;
  esac
done

BUSYBOX=/bin/busybox
if [[ ! -x $BUSYBOX ]] || [[ $(LC_ALL=C ldd "$BUSYBOX" 2>&1) != *'not a dynamic executable'* ]]; then
  echo "busybox-image.sh: $BUSYBOX is missing or not static: apt-get install busybox-static" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "busybox-image.sh: no Docker engine answers: start one with scripts/docker-engine.sh start" >&2
  exit 1
fi
if ((force == 0)) && docker image inspect "$ref" >/dev/null 2>&1; then
  echo "image $ref exists (--force rebuilds it)"
  exit 0
fi

root=$(mktemp -d /tmp/nokube-busybox-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
n=0
for applet in $("$BUSYBOX" --list); do
  [[ $applet == busybox || -e $root/bin/$applet ]] && continue
  ln -s busybox "$root/bin/$applet"
  n=$((n + 1))
done
id=$(tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
  docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - "$ref")
echo "built $ref ($id, busybox with $n applets)"
