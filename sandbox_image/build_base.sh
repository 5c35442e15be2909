#!/usr/bin/env bash
# Build a local base image (Debian bookworm + Python 3.11) when no container registry is
# reachable: debootstrap a minimal rootfs from the Debian mirror, then `docker import` it.
# The tag carries a hash of this script, so an unchanged recipe is never rebuilt.
#
# usage: sandbox_image/build_base.sh [--print-tag]
#   --print-tag   print the tag this recipe builds and exit
# env:   GENOTEAM_DEBIAN_MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mirror="${GENOTEAM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="bookworm"
# python3-venv: the sandbox Dockerfile installs its pinned packages into /opt/venv on any base.
packages="python3,python3-venv,ca-certificates"
recipe_hash="$(sha256sum "$here/build_base.sh" | cut -c1-12)"
tag="genoteam-sandbox-base:${suite}-py3-${recipe_hash}"

if [ "${1:-}" = "--print-tag" ]; then
  echo "$tag"
  exit 0
fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "   skipped: base image $tag already exists"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "debootstrap needs root; run this script as root (or use a public base: --base python:3.11-slim)" >&2
  exit 1
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "debootstrap is missing: apt-get install debootstrap" >&2
  exit 1
}

work="$(mktemp -d /var/tmp/genoteam-rootfs.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
rootfs="$work/rootfs"
log="$work/debootstrap.log"

echo "   doing: debootstrap --variant=minbase $suite (+ $packages) from $mirror"
start=$(date +%s)
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 40 "$rootfs/debootstrap/debootstrap.log" >&2
  echo "debootstrap failed (is $mirror reachable?)" >&2
  exit 1
fi
echo "   debootstrap took $(( $(date +%s) - start ))s"

# Slim the rootfs: package caches, docs and locales are not needed to run Python.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
# Same sources as the host's mirror, so `apt-get` works inside derived images.
echo "deb $mirror $suite main" >"$rootfs/etc/apt/sources.list"

echo "   doing: docker import -> $tag"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$tag" >/dev/null
echo "   built base image $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
