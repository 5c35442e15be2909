#!/usr/bin/env bash
# Debian packages: R + limma (the peer our statistics are checked against).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_need r-base-core r-bioc-limma
