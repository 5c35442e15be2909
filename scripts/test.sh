#!/usr/bin/env bash
# The whole test suite: set up what it needs (idempotent), lint, then pytest.
# pytest's exit code 5 (no tests collected) fails this script like any other failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
echo "== lint: ruff"
python3 -m ruff check genoteam tests benchmarks
echo "== tests: pytest"
set +e
python3 -m pytest -p no:cacheprovider --timeout=1800 --durations=30 "$@"  # the 30 slowest: watch the suite time
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
