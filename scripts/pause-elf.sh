#!/usr/bin/env bash
# Assembles the pod sandbox's process (agent/podnet/pause/pause-*.S) into static ELF executables and
# prints them in base64, as agent/podnet/pause/elf.ts holds them; --check compares with that file.
#   pause-elf.sh [--check]
# Needs binutils (x86-64) and binutils-aarch64-linux-gnu; qemu-user-static runs the arm64 one here.
set -euo pipefail
cd "$(dirname "$0")/../agent/podnet/pause"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
as -o "$tmp/amd64.o" pause-x86_64.S
ld -static -nostdlib -n --build-id=none -s -o "$tmp/amd64" "$tmp/amd64.o"
aarch64-linux-gnu-as -o "$tmp/arm64.o" pause-aarch64.S
aarch64-linux-gnu-ld -static -nostdlib -n --build-id=none -s -o "$tmp/arm64" "$tmp/arm64.o"
for arch in amd64 arm64; do
  b64=$(base64 -w0 "$tmp/$arch")
  if [[ ${1:-} == --check ]]; then
    grep -q "$arch: '$b64'" elf.ts || { echo "elf.ts: $arch differs from pause-*.S" >&2; exit 1; }
  else
    echo "$arch: '$b64'"
  fi
done
