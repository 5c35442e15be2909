#!/usr/bin/env bash
# genoteam itself with its test and dev extras, editable, into the current Python.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GENOTEAM_ROOT"
stamp_file=".cache/pip-installed.sha256"
stamp="$(sha256sum pyproject.toml | cut -d' ' -f1)-$(python3 -c 'import sys;print(sys.version_info[:2])' | tr -dc 0-9)"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && python3 -c "import genoteam" 2>/dev/null; then
  step_skip "pip install -e .[dev] (pyproject.toml unchanged since the last install)"
else
  step_do "pip install -e .[dev]"
  python3 -m pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
  python3 -c "import genoteam" || { echo "genoteam did not install" >&2; exit 1; }
  mkdir -p .cache && echo "$stamp" >"$stamp_file"
fi
