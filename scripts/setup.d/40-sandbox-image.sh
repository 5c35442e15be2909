#!/usr/bin/env bash
# The sandbox image the Docker tests and the pipeline run code in.
# This machine (and CI) reach no container registry, so the base is built locally
# (debootstrap + docker import, ~1-2 min), then the sandbox image from it (~1-2 min).
# Both steps are skipped, with a message, when their content-hash tag already exists.
# GENOTEAM_SANDBOX_BASE=IMAGE uses an existing base (e.g. python:3.11-slim) instead.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GENOTEAM_ROOT"

if ! docker info >/dev/null 2>&1; then
  echo "no Docker engine answers, so the sandbox image cannot be built (see 20-docker-engine.sh)" >&2
  exit 1
fi

if [ -n "${GENOTEAM_SANDBOX_BASE:-}" ]; then
  base="$GENOTEAM_SANDBOX_BASE"
  step_skip "local base image build (GENOTEAM_SANDBOX_BASE=$base)"
else
  apt_need debootstrap
  base="$(bash sandbox_image/build_base.sh --print-tag)"
  bash sandbox_image/build_base.sh
fi

# `sandbox build` prints "skipped: ..." itself when the image's tag already exists.
log="$(mktemp /tmp/genoteam-sandbox-build.XXXXXX.log)"
if ! python3 -m genoteam.sandbox.cli build --base "$base" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "building the sandbox image failed (full log: $log)" >&2
  exit 1
fi
grep -E "^(skipped|building|tag|digest):?" "$log" | sed 's/^/   /'
rm -f "$log"
