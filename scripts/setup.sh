#!/usr/bin/env bash
# Set up everything genoteam and its tests need on a fresh Debian machine, idempotently.
# Each step prints what it did, or that it was skipped because its result was already there.
# Steps live in scripts/setup.d/NN-name.sh and run in order; each sources scripts/lib.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GENOTEAM_ROOT="$(cd "$here/.." && pwd)"
for step in "$here"/setup.d/*.sh; do
  echo "== setup: $(basename "$step")"
  bash "$step"
done
echo "== setup: done"
