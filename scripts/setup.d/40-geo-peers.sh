#!/usr/bin/env bash
# GEO peers and sources: R GEOquery (cross-checks our GEO reader on GSE781) and
# org.Hs.eg.db (the SQLite our shipped gene-symbol table is regenerated from in tests).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_need r-base-core r-bioc-geoquery r-bioc-org.hs.eg.db
