#!/usr/bin/env bash
# Ray, the optional extra `genoteam[ray]` (`genoteam batch` on a cluster; the two-node loopback
# cluster tests in tests/batch/). Installed into the current Python so CI runs those tests.
# The requirement is read from pyproject.toml (its one home); skipped when an installed Ray meets it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GENOTEAM_ROOT"
spec="$(python3 -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['ray']))")"
if python3 - "$spec" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
requirement = Requirement(sys.argv[1])
installed = version(requirement.name)
assert requirement.specifier.contains(installed), installed
if "client" in requirement.extras:
    version("grpcio")  # what the client extra adds: `--cluster ray://HOST:PORT`
PY
  step_skip "$spec already installed (ray $(python3 -c 'from importlib.metadata import version; print(version("ray"))'))"
else
  step_do "pip install $spec (a wheel of ~80 MB)"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "$spec" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  python3 -c "import ray; print('   ray', ray.__version__)" || { echo "Ray did not install: $spec" >&2; exit 1; }
fi
