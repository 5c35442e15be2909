#!/usr/bin/env bash
# What the install tests (tests/install/) need beyond genoteam itself:
#   .venvs/uv   uv and uvx from PyPI (the README's `uvx --from <checkout> genoteam serve`)
# The wheel and the fresh venv the tests install it into are cached by the tests themselves
# under .cache/install/ (keyed by the sources' and the wheel's hashes), and they say so.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GENOTEAM_ROOT"
UV_SPEC="${GENOTEAM_UV_SPEC:-uv}"
uv_dir=.venvs/uv
if [ -x "$uv_dir/bin/uv" ] && [ -x "$uv_dir/bin/uvx" ] && "$uv_dir/bin/uv" --version >/dev/null 2>&1; then
  step_skip "$uv_dir already has $("$uv_dir/bin/uv" --version)"
else
  step_do "create $uv_dir and pip install $UV_SPEC"
  mkdir -p .venvs
  python3 -m venv "$uv_dir"
  "$uv_dir/bin/python" -m pip install -q --disable-pip-version-check "$UV_SPEC" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$uv_dir/bin/uv" --version || { echo "uv did not install into $uv_dir" >&2; exit 1; }
fi
